"""The migration tracker: starts live migrations, follows them, remembers them.

- `start` refuses a VM that is already migrating (here or, per its host, from another console)
  with NOVA-3003, records the migration in the history *before* the call, and runs the call
  through the dispatcher (audit row, per-target lock) on a background task;
- a poller reads `jobStats` about once a second into a `ProgressMeter` (monotonic percentage,
  ETA, convergence and stall warnings) and tells subscribers;
- `recover` re-reads the migrations the history says never ended (the console died) from the
  hosts themselves and shows what really happened; `drain` empties a host;
- `adopt` follows, the same way, a migration started outside this console (seen in a fleet
  snapshot by `console.migration.adopt`), without writing it to the history.

No Textual here: the board, the CLI and the tests are all subscribers.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping

from backends.base import Backend, DomainPresence, MigrationOptions, SupportsMigration
from console.actions.registry import CANCEL_MIGRATION as CANCEL
from console.actions.registry import MIGRATE, POST_COPY
from console.errors import Code, NovaError
from console.migration.adopt import ADOPTED_NOTE, Sighting
from console.migration.history import History, HistoryRecord
from console.migration.outcome import Outcome, outcome_from
from console.migration.progress import ProgressMeter
from console.migration.state import COLUMNS, DrainSummary, MigrationState
from console.models import VM, Host, MigrationPhase

log = logging.getLogger(__name__)


Call = Callable[[], Awaitable[None]]
Door = Callable[[MigrationState, Call, dict[str, object], str], Awaitable[None]]
"""Runs one call on a migration through the dispatcher (read-only gate, audit, lock): gets the
state, the direct call, the same call as plain parameters, and its action id (`MIGRATE`,
`CANCEL` or `POST_COPY`); raises NovaError on failure."""

"""The action ids of the calls a tracker makes (their specs: `console.migration.dispatch`)."""


async def _direct(_state: MigrationState, call: Call, _params: dict[str, object],
                  _action: str) -> None:
    await call()


def migrate_params(state: MigrationState, target_uri: str) -> dict[str, object]:
    """`vm.migrate`'s parameters: plain values, as the audit log records them."""
    return {"target": state.target, "target_uri": target_uri,
            **dataclasses.asdict(state.options)}


REREAD_NOTE = "re-read after a console restart"


class MigrationTracker:
    """Every migration this console started, re-read or adopted, keyed by migration id."""

    def __init__(
        self,
        backends: Mapping[str, Backend] | Callable[[], Mapping[str, Backend]],
        *,
        context: str = "",
        history: History | None = None,
        door: Door | None = None,
        poll_interval_s: float = 1.0,
        stall_after_s: float = 30.0,
        settle_s: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._backends = backends
        self.context = context
        self.history = history
        self._door = door or _direct
        self.poll_interval_s = poll_interval_s
        self.stall_after_s = stall_after_s
        self.settle_s = settle_s
        self._clock = clock
        self._states: dict[str, MigrationState] = {}
        self._meters: dict[str, ProgressMeter] = {}
        self._tasks: dict[str, asyncio.Task[MigrationState]] = {}
        self._cancelling: set[str] = set()
        self._records: dict[str, int | str] = {}
        self._subscribers: list[Callable[[MigrationState], None]] = []
        self.version = 0
        """Bumped on every change: a screen redraws only when it moved."""

    # -- reading ----------------------------------------------------------------------------

    def states(self) -> list[MigrationState]:
        return sorted(self._states.values(), key=lambda s: s.queued_at)

    def forget_finished(self) -> None:
        """Drop ended migrations from the board (the history keeps them)."""
        for key in [k for k, s in self._states.items() if not s.active]:
            del self._states[key]
            self._meters.pop(key, None)
        self.version += 1

    def get(self, migration_id: str) -> MigrationState | None:
        return self._states.get(migration_id)

    def busy(self) -> set[str]:
        """Keys (`backend/vm_id`) of the VMs with a migration in progress."""
        return {s.vm_key for s in self._states.values() if s.active}

    def _following(self, vm_id: str) -> MigrationState | None:
        return next((s for s in self._states.values() if s.active and s.vm_id == vm_id), None)

    def subscribe(self, callback: Callable[[MigrationState], None]) -> None:
        self._subscribers.append(callback)

    def _backend(self, name: str) -> Backend:
        backends = self._backends() if callable(self._backends) else self._backends
        backend = backends.get(name)
        if backend is None:
            raise NovaError(Code.VM_NOT_FOUND, name, "no such source in this context")
        return backend

    def _migrator(self, name: str) -> SupportsMigration:
        backend = self._backend(name)
        if not isinstance(backend, SupportsMigration):
            raise NovaError(Code.NOT_SUPPORTED, f"migrate on {name}",
                            f"{type(backend).__name__} cannot live-migrate")
        return backend

    def _set(self, state: MigrationState) -> MigrationState:
        self._states[state.id] = state
        self.version += 1
        for callback in list(self._subscribers):
            try:
                callback(state)
            except Exception:  # a broken subscriber must not stop a migration's bookkeeping
                log.exception("migration subscriber failed")
        return state

    # -- starting ---------------------------------------------------------------------------

    async def start(self, vm: VM, target: Host, options: MigrationOptions | None = None) -> MigrationState:
        """Queue the migration of `vm` to `target` and return at once (it runs in background)."""
        for state in self._states.values():
            if state.active and state.vm_key == vm.key:
                raise in_progress(vm.name, f"{state.source} → {state.target} (migration "
                                  f"{state.id}); wait for it or cancel it")
        source = self._migrator(vm.backend)
        self._migrator(target.backend)
        try:
            running = await source.migration_progress(vm.id)
        except NovaError as err:
            if err.kind is not Code.VM_NOT_FOUND:
                raise
            raise NovaError(Code.VM_NOT_FOUND, vm.name, f"not on {vm.host} any more") from err
        if running is not None:
            raise in_progress(vm.name, f"its host {vm.host} reports a migration job already "
                              f"running ({running.data_processed / 2**20:.0f} MiB sent)")
        state = MigrationState(
            id=uuid.uuid4().hex[:12], vm_id=vm.id, vm_name=vm.name, source=vm.host,
            target=target.name, source_backend=vm.backend, target_backend=target.backend,
            phase=MigrationPhase.QUEUED, queued_at=self._clock(),
            options=options or MigrationOptions())
        self._meters[state.id] = ProgressMeter(stall_after_s=self.stall_after_s)
        self._set(state)
        if self.history is not None:
            self._records[state.id] = await self.history.started(self.context, state)
        self._tasks[state.id] = asyncio.create_task(self._run(state.id), name=f"migrate:{vm.name}")
        return state

    async def migrate(self, vm: VM, target: Host, options: MigrationOptions | None = None) -> MigrationState:
        """Start and wait for the end."""
        state = await self.start(vm, target, options)
        return await self.wait(state.id)

    async def wait(self, migration_id: str) -> MigrationState:
        task = self._tasks.get(migration_id)
        if task is not None:
            return await asyncio.shield(task)
        return self._states[migration_id]

    async def _run(self, migration_id: str) -> MigrationState:
        state = self._states[migration_id]
        source = self._migrator(state.source_backend)
        target = self._backend(state.target_backend)
        state = self._set(dataclasses.replace(state, phase=MigrationPhase.RUNNING,
                                              started_at=self._clock()))
        poller = asyncio.create_task(self._poll(migration_id, source, state.vm_id))
        error: NovaError | None = None
        try:
            params = migrate_params(state, getattr(target, "uri", ""))
            await self._door(state, lambda: source.migrate_to(state.vm_id, **params),  # type: ignore[arg-type]
                             params, MIGRATE)
        except NovaError as err:
            error = err
        except Exception as exc:
            error = NovaError(Code.BACKEND_ERROR, state.vm_name, f"{type(exc).__name__}: {exc}")
        finally:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
        return await self._finish(migration_id, error)

    async def _finish(self, migration_id: str, error: NovaError | None) -> MigrationState:
        state = self._states[migration_id]
        meter = self._meters.setdefault(migration_id, ProgressMeter())
        phase, note, message = MigrationPhase.DONE, state.note, ""
        if error is not None:
            phase, message = MigrationPhase.FAILED, str(error)
            if migration_id in self._cancelling:
                phase, message = MigrationPhase.CANCELLED, "cancelled by the operator"
            else:
                # P2P: the call may fail on our side while the hosts finished the job.
                with contextlib.suppress(NovaError, TimeoutError):
                    where = await self._presence(state.target_backend, state.vm_id)
                    if where.active and not where.migrating_in:
                        phase, note = MigrationPhase.DONE, f"finished despite: {error}"
        if phase is MigrationPhase.DONE:
            meter.finish()
        state = self._set(dataclasses.replace(
            state, phase=phase, ended_at=self._clock(), error=message, note=note,
            percent=meter.percent, eta_s=meter.eta_s if phase is MigrationPhase.DONE else None,
            warnings=() if phase is MigrationPhase.DONE else state.warnings))
        self._cancelling.discard(migration_id)
        await self._record_end(state)
        return state

    async def _record_end(self, state: MigrationState) -> None:
        record = self._records.pop(state.id, None)
        if self.history is not None and record is not None:
            try:
                await self.history.ended(record, state)
            except Exception as exc:
                log.error("migration history: could not record the end of %s: %s", state.id, exc)

    async def _poll(self, migration_id: str, source: SupportsMigration, vm_id: str) -> None:
        meter = self._meters[migration_id]
        while True:
            await asyncio.sleep(self.poll_interval_s)
            now = self._clock()
            try:
                sample = await source.migration_progress(vm_id)
            except (NovaError, TimeoutError) as err:
                log.debug("progress of %s unavailable: %s", migration_id, err)
                sample = None
            state = self._states[migration_id]
            if not state.active:
                return
            if sample is None or (sample.data_total == 0 and state.progress is not None):
                meter.touch(-1, now)  # nothing (or a job winding down): keep the last figures
                self._set(dataclasses.replace(state, warnings=meter.warnings))
                continue
            meter.update(sample, now)
            sample = dataclasses.replace(sample, id=migration_id, target=state.target)
            self._set(dataclasses.replace(
                state, progress=sample, phase=sample.phase, percent=meter.percent,
                eta_s=meter.eta_s, warnings=meter.warnings))

    # -- controlling ------------------------------------------------------------------------

    async def cancel(self, migration_id: str) -> None:
        """Abort the job on the source; the guest stays there. Refused in post-copy."""
        state = self._states.get(migration_id)
        if state is None or not state.active:
            raise NovaError(Code.INVALID_STATE, migration_id, "no such running migration")
        self._cancelling.add(migration_id)
        source = self._migrator(state.source_backend)
        try:
            await self._door(state, lambda: source.cancel_migration(state.vm_id), {}, CANCEL)
        except NovaError:
            self._cancelling.discard(migration_id)
            raise

    async def start_post_copy(self, migration_id: str) -> None:
        state = self._states.get(migration_id)
        if state is None or not state.active:
            raise NovaError(Code.INVALID_STATE, migration_id, "no such running migration")
        if not state.options.post_copy:
            raise NovaError(Code.INVALID_STATE, state.vm_name,
                            "post-copy must be allowed when the migration starts (--post-copy)")
        source = self._migrator(state.source_backend)
        await self._door(state, lambda: source.start_post_copy(state.vm_id), {}, POST_COPY)

    async def close(self) -> None:
        """Stop following (migrations themselves go on: the hosts drive them)."""
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    # -- after a restart --------------------------------------------------------------------

    async def _presence(self, backend: str, vm_id: str) -> DomainPresence:
        return await self._migrator(backend).presence(vm_id)

    async def recover(self) -> list[MigrationState]:
        """Re-read every migration the history says never ended, from the hosts themselves."""
        if self.history is None:
            return []
        found = []
        for record in await self.history.unfinished(self.context):
            state = record.state
            twin = self._following(state.vm_id)
            if twin is not None and twin.adopted:  # seen in a snapshot first; it was ours
                self._records[twin.id] = record.key
                found.append(self._set(dataclasses.replace(twin, adopted=False, note=REREAD_NOTE)))
                continue
            self._follow(dataclasses.replace(state, note=REREAD_NOTE), record.key)
            found.append(state)
        return found

    def _follow(self, state: MigrationState, record: int | str | None = None) -> MigrationState:
        """Show `state` and follow it from the hosts (`_reread`) in the background."""
        self._meters.setdefault(state.id, ProgressMeter(stall_after_s=self.stall_after_s))
        if record is not None:
            self._records[state.id] = record
        state = self._set(state)
        self._tasks[state.id] = asyncio.create_task(self._reread(state.id),
                                                    name=f"follow:{state.vm_name}")
        return state

    async def adopt(self, seen: Sighting) -> MigrationState | None:
        """Follow a migration started elsewhere; None if the source runs no job (the snapshot
        lags behind one that just ended, ours included). Not written to the history: the store
        would name this user as its author; a restarted console sees it again while it runs."""
        if self._following(seen.vm_id) is not None:
            return None
        vm, target = seen.source, seen.incoming
        try:
            self._migrator(target.backend)
            sample = await self._migrator(vm.backend).migration_progress(vm.id)
        except (NovaError, TimeoutError) as err:
            log.debug("not adopting %s: %s", vm.name, err)
            return None
        if sample is None or self._following(vm.id) is not None:
            return None
        now = self._clock()
        migration_id = f"adopted-{uuid.uuid4().hex[:12]}"
        meter = self._meters[migration_id] = ProgressMeter(stall_after_s=self.stall_after_s)
        meter.update(sample, now)
        log.info("following a migration started elsewhere: %s %s -> %s", vm.name, vm.host,
                 target.host)
        return self._follow(MigrationState(
            id=migration_id, vm_id=vm.id, vm_name=vm.name, source=vm.host, target=target.host,
            source_backend=vm.backend, target_backend=target.backend, phase=sample.phase,
            queued_at=now, started_at=now - sample.elapsed_s,
            progress=dataclasses.replace(sample, id=migration_id, target=target.host),
            percent=meter.percent, eta_s=meter.eta_s, note=ADOPTED_NOTE, adopted=True))

    async def _reread(self, migration_id: str) -> MigrationState:
        """Follow the source's job while there is one, then settle from where the guest is.

        The hosts pass through in-between states at the end of a migration (job gone but the
        source domain not yet undefined, the target still paused for the hand-over, a lookup
        racing the undefine), so an inconclusive answer is asked again until `settle_s`.
        """
        deadline = None
        while True:
            await self._follow_source_job(migration_id)
            deadline = deadline or self._clock() + self.settle_s  # from the end of the job
            outcome = await self._observe(migration_id)
            if outcome is not None or self._clock() >= deadline:
                break
            await asyncio.sleep(self.poll_interval_s)
        if outcome is None:
            state = self._states[migration_id]
            why = state.warnings or ("the hosts did not settle",)
            if migration_id in self._records:  # leave the record open for the next restart
                return self._set(dataclasses.replace(state, warnings=why))
            outcome = Outcome(NovaError(Code.BACKEND_ERROR, state.vm_name, why[0]))
        return await self._finish(migration_id, outcome.error)

    async def _follow_source_job(self, migration_id: str) -> None:
        state = self._states[migration_id]
        try:
            source = self._migrator(state.source_backend)
            while (sample := await source.migration_progress(state.vm_id)) is not None:
                meter = self._meters[migration_id]
                meter.update(sample, self._clock())
                state = self._states[migration_id]
                self._set(dataclasses.replace(
                    state, phase=sample.phase, percent=meter.percent, eta_s=meter.eta_s,
                    progress=dataclasses.replace(sample, id=state.id, target=state.target),
                    warnings=meter.warnings))
                await asyncio.sleep(self.poll_interval_s)
        except NovaError as err:  # gone from the source is an answer too; else ask both hosts
            if err.kind is not Code.VM_NOT_FOUND:
                log.warning("re-reading %s: %s", migration_id, err)

    async def _observe(self, migration_id: str) -> Outcome | None:
        """The outcome from where the guest is now; None while the hosts are in between."""
        state = self._states[migration_id]
        try:
            src = await self._presence(state.source_backend, state.vm_id)
            dst = await self._presence(state.target_backend, state.vm_id)
        except NovaError as err:
            log.info("re-reading %s: a host did not answer yet: %s", migration_id, err)
            self._set(dataclasses.replace(state, warnings=(f"outcome unknown: {err}",)))
            return None
        return outcome_from(state.vm_name, src, dst)


def in_progress(vm_name: str, why: str) -> NovaError:
    return NovaError(Code.OPERATION_IN_PROGRESS, f"{vm_name} is already being migrated", why)


__all__ = ["COLUMNS", "DrainSummary", "HistoryRecord", "MigrationState", "MigrationTracker",
           "in_progress"]
