"""The dispatcher: the one door through which anything mutates a VM.

Every mutating call, from a key, the palette, a `:` command or the CLI, comes here, and the
checks happen in a fixed order so none can be skipped by a new front end:

1. read-only: refused (and the refusal audited) before anything else, whatever the caller hid;
2. the backend exists and has the capability the action needs (`isinstance`, no stubs);
3. the confirmation the registry demands was given (yes, or the VM's exact name);
4. a per-target lock: a second action on a VM that is busy is refused (NOVA-3003), not queued;
   first this process's own table (no round trip), then the store, which takes the target and
   writes the audit row in one transaction, so two consoles sharing the store (two operators,
   the TUI and the CLI) cannot both act on one VM (`console.store.target_lock`);
5. an audit row is written *before* the call, with an idempotency key; if the audit log cannot
   be written the action does not run;
6. the call, under an overall timeout; the outcome, duration and error (code, message, cause)
   are written to the same row; the fleet is poked so the row in the table changes at once.

Nothing here imports Textual: the TUI and the CLI are both just callers.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from backends.base import Backend, ResumeSink, action_key, resume_tokens
from console.actions import registry as actions
from console.actions.registry import ActionSpec, Confirm
from console.errors import Code, NovaError
from console.store.target_lock import Holder, TargetBusy

log = logging.getLogger(__name__)

Status = Literal["ok", "failed", "refused"]
CALL_MARGIN_S = 30.0
"""Added to an action's own timeout (shutdown's wait) for the dispatcher's outer timeout."""
DEFAULT_CALL_LIMIT_S = 600.0
BULK_CONCURRENCY = 8
RESUMABLE_MESSAGE = "not watched to its end: this console stopped"
RESUMABLE_CAUSE = ("the operation goes on in the cloud; the next console started on this store "
                   "resumes watching it and records its outcome here")


@dataclass(frozen=True, slots=True)
class Target:
    """A VM an action is aimed at: where it lives and the (sanitized) name shown to people."""

    backend: str
    vm_id: str
    name: str

    @property
    def key(self) -> str:
        return f"{self.backend}/{self.vm_id}"


@dataclass(frozen=True, slots=True)
class Request:
    """One action on one target, with the confirmation the operator gave."""

    action: str
    target: Target
    params: Mapping[str, object] = field(default_factory=dict)
    confirmed: bool = False
    """The operator answered yes (yes/no confirmation, or the CLI's `--yes`)."""
    typed_name: str | None = None
    """What the operator typed for a type-the-name confirmation (or `--confirm NAME`)."""
    origin: str = "tui"
    idempotency_key: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def spec(self) -> ActionSpec:
        return actions.get(self.action)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one request."""

    request: Request
    status: Status
    error: NovaError | None = None
    duration_s: float = 0.0
    audit_id: int | None = None
    value: Any = None
    """What a query returned (the snapshot list), or a mutating call's extra result."""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class AuditLog(Protocol):
    """What the dispatcher needs from `console.store` (kept narrow so tests can pass a store)."""

    async def begin_action(self, *, context: str, target_kind: str, target_id: str,
                           target_name: str, action: str, params: Mapping[str, Any] | None = None,
                           idempotency_key: str | None = None,
                           deadline_s: float | None = None, exclusive: bool = True) -> int: ...

    async def finish_action(self, action_id: int, outcome: Any, duration_s: float | None = None,
                            error_code: str = "", error_message: str = "",
                            error_cause: str = "") -> Any: ...

    async def record_refusal(self, *, context: str, target_kind: str, target_id: str,
                             target_name: str, action: str, error_code: str, error_message: str,
                             error_cause: str = "", params: Mapping[str, Any] | None = None) -> Any: ...


class Dispatcher:
    """Runs action requests against the backends of one context."""

    def __init__(
        self,
        backends: Mapping[str, Backend] | Callable[[], Mapping[str, Backend]],
        *,
        audit: AuditLog,
        context: str,
        read_only: bool,
        poke: Callable[[str], None] | None = None,
    ) -> None:
        self._backends = backends
        self.audit = audit
        self.context = context
        self.read_only = read_only
        self._poke = poke
        self._busy: dict[str, Holder] = {}

    # -- checks -----------------------------------------------------------------------------

    def backend(self, name: str) -> Backend | None:
        backends = self._backends() if callable(self._backends) else self._backends
        return backends.get(name)

    def poke(self, backend: str) -> None:
        """Make the fleet look at `backend` now (a VM of it has just changed)."""
        if self._poke is not None:
            self._poke(backend)

    def busy_with(self, target: Target) -> str | None:
        """The action id this dispatcher is running on `target`, if any."""
        holder = self._busy.get(target.key)
        return holder.action if holder is not None else None

    def precheck(self, request: Request, *, confirmation: bool = True) -> NovaError | None:
        """Why `request` would be refused right now, or None (checks 1 to 4, no side effects).

        Front ends call this before asking for a confirmation, so an operator is never asked
        to type a name for an action that will be refused anyway.
        """
        spec = request.spec
        target = request.target
        if spec.mutating and self.read_only:
            return NovaError(Code.READ_ONLY, f"{spec.title} {target.name}",
                             f"context {self.context!r} is read-only (use --write to override)")
        backend = self.backend(target.backend)
        if backend is None:
            return NovaError(Code.VM_NOT_FOUND, target.name, f"no source named {target.backend!r}")
        if not isinstance(backend, spec.capability):
            return NovaError(Code.NOT_SUPPORTED, f"{spec.title} on {target.backend}",
                             f"{type(backend).__name__} does not implement {spec.capability.__name__}")
        if confirmation and spec.mutating and (problem := confirmation_problem(request)):
            return problem
        holder = self._busy.get(target.key)
        if spec.mutating and spec.exclusive and holder is not None:
            return busy_error(target.name, holder)
        return None

    def certain_refusals(self, requests: Sequence[Request]) -> list[NovaError] | None:
        """Each request's refusal when every one would be refused whatever the operator answers
        (read-only, unsupported, busy here); None when there are none or one could run. Front
        ends then refuse (`refuse`) instead of opening a dialog."""
        refusals = [self.precheck(r, confirmation=False) for r in requests]
        if not refusals or any(why is None for why in refusals):
            return None
        return refusals  # type: ignore[return-value]

    async def held_elsewhere(self, request: Request) -> NovaError | None:
        """NOVA-3003 when another console holds the request's VM (the store's lock), read
        without taking it: front ends ask before a confirmation dialog. `run` still checks,
        atomically, when it takes the lock."""
        peek = getattr(self.audit, "holder", None)
        if peek is None or not request.spec.mutating or not request.spec.exclusive:
            return None
        try:
            holder = await peek(self.context, request.target.key)
        except Exception as exc:  # the real check at begin_action will say what is wrong
            log.debug("could not read the lock of %s: %s", request.target.key, exc)
            return None
        return busy_error(request.target.name, holder) if holder is not None else None

    # -- running ----------------------------------------------------------------------------

    async def run(self, request: Request) -> Outcome:
        """Run one request through every check; never raises for an action failure."""
        spec = request.spec
        refusal = self.precheck(request)
        if refusal is not None:
            audit_id = await self._refused(request, refusal) if spec.mutating else None
            return Outcome(request, "refused", refusal, audit_id=audit_id)
        if not spec.mutating:
            return await self._query(request)
        if not spec.exclusive:  # a control of the action holding the VM: audited, not locked
            return await self._run_locked(request)
        key = request.target.key
        self._busy[key] = Holder.here(spec.id)  # no await since the precheck: atomic here
        try:
            return await self._run_locked(request)
        finally:
            del self._busy[key]

    async def refuse(self, request: Request, why: NovaError) -> Outcome:
        """Audit and return a refusal a front end found before asking the operator anything
        (`precheck(confirmation=False)`, `held_elsewhere`), under that reason, not under the
        missing confirmation `run` would report first."""
        audit_id = await self._refused(request, why) if request.spec.mutating else None
        return Outcome(request, "refused", why, audit_id=audit_id)

    async def run_all(self, requests: Iterable[Request]) -> list[Outcome]:
        """Run many requests (bulk on marked rows), a few at a time; results in input order."""
        gate = asyncio.Semaphore(BULK_CONCURRENCY)

        async def one(request: Request) -> Outcome:
            async with gate:
                return await self.run(request)

        return list(await asyncio.gather(*(one(r) for r in requests)))

    async def _query(self, request: Request) -> Outcome:
        started = time.monotonic()
        try:
            value = await self._invoke(request)
        except Exception as exc:
            return Outcome(request, "failed", as_nova(exc, request),
                           duration_s=time.monotonic() - started)
        return Outcome(request, "ok", None, time.monotonic() - started, value=value)

    async def _run_locked(self, request: Request) -> Outcome:
        try:
            audit_id = await self.audit.begin_action(
                **self._fields(request), idempotency_key=request.idempotency_key,
                deadline_s=call_limit(request) + CALL_MARGIN_S, exclusive=request.spec.exclusive)
        except TargetBusy as busy:  # another console holds the VM (the store's lock)
            refusal = busy_error(request.target.name, busy.holder)
            return Outcome(request, "refused", refusal, audit_id=await self._refused(request, refusal))
        except Exception as exc:
            log.error("audit log unavailable, action not run: %s", exc)
            unaudited = NovaError(Code.BACKEND_ERROR, "the audit log cannot be written, so "
                                  "the action was not run", f"{type(exc).__name__}: {exc}")
            return Outcome(request, "failed", unaudited)
        started = time.monotonic()
        error: NovaError | None = None
        value: Any = None
        kept: list[str] = []
        sink = resume_tokens.set(self._resume_sink(audit_id, kept))
        try:
            value = await self._invoke(request)
        except asyncio.CancelledError:
            if kept:  # a long-running operation goes on: the next console resumes watching it
                await self._abandon(audit_id)
                raise
            cancelled = NovaError(Code.BACKEND_ERROR, "cancelled", "the console stopped "
                                  "waiting; the host may still complete the action")
            await self._finish(audit_id, "failed", time.monotonic() - started, cancelled)
            raise
        except Exception as exc:
            error = as_nova(exc, request)
        finally:
            resume_tokens.reset(sink)
        duration = time.monotonic() - started
        status: Status = "ok" if error is None else "failed"
        await self._finish(audit_id, status, duration, error)
        log.info("action %s on %s: %s", request.action, request.target.key, status,
                 extra={"action": request.action, "idempotency_key": request.idempotency_key})
        if self._poke is not None:
            self._poke(request.target.backend)
        return Outcome(request, status, error, duration, audit_id, value)

    async def _invoke(self, request: Request) -> Any:
        spec = request.spec
        backend = self.backend(request.target.backend)
        method = getattr(backend, spec.method)
        token = action_key.set(request.idempotency_key)
        try:
            kwargs = actions.call_kwargs(spec, dict(request.params))
            call = (spec.call(backend, request.target.vm_id, kwargs) if spec.call is not None
                    else method(request.target.vm_id, **kwargs))
            return await asyncio.wait_for(call, call_limit(request))
        finally:
            action_key.reset(token)

    # -- audit ------------------------------------------------------------------------------

    def _fields(self, request: Request) -> dict[str, Any]:
        """The columns `console.store`'s audit log takes (it records who and when itself)."""
        return {
            "context": self.context,
            "target_kind": request.spec.target.value,
            "target_id": request.target.key,
            "target_name": request.target.name,
            "action": request.action,
            "params": {**request.params, "origin": request.origin},
        }

    async def _finish(self, audit_id: int, status: Status, duration: float,
                      error: NovaError | None) -> None:
        try:
            await self.audit.finish_action(
                audit_id, outcome=status, duration_s=duration,
                error_code=error.code if error else "",
                error_message=plain_message(error) if error else "",
                error_cause=error.cause if error else "",
            )
        except Exception as exc:  # the call happened; losing the outcome must not hide that
            log.error("audit: could not record the outcome of #%s: %s", audit_id, exc)

    def _resume_sink(self, audit_id: int, kept: list[str]) -> ResumeSink:
        """Where the backend reports its operation's resume token: the action's audit row."""

        async def keep(operation: str, token: str) -> None:
            record = getattr(self.audit, "record_resume", None)
            if record is None:
                return
            try:
                await record(audit_id, operation, token)
            except Exception as exc:  # the action goes on; only a restart cannot resume it
                log.error("audit: could not keep the resume token of #%s: %s", audit_id, exc)
                return
            kept.append(operation)

        return keep

    async def _abandon(self, audit_id: int) -> None:
        abandon = getattr(self.audit, "abandon_action", None)
        try:
            await abandon(audit_id, RESUMABLE_MESSAGE, RESUMABLE_CAUSE)  # type: ignore[misc]
        except Exception as exc:
            log.error("audit: could not leave #%s for the next console: %s", audit_id, exc)

    async def _refused(self, request: Request, error: NovaError) -> int | None:
        try:
            result = await self.audit.record_refusal(
                **self._fields(request), error_code=error.code,
                error_message=plain_message(error), error_cause=error.cause)
        except Exception as exc:
            log.error("audit: could not record a refusal: %s", exc)
            return None
        return result if isinstance(result, int) else None


def call_limit(request: Request) -> float:
    """How long the dispatcher waits for the backend call: the action's own timeout plus a
    margin, or the default limit for actions without one."""
    if "timeout_s" not in request.params:
        return DEFAULT_CALL_LIMIT_S
    return float(request.params.get("timeout_s") or 0) + CALL_MARGIN_S  # type: ignore[arg-type]


def busy_error(target_name: str, holder: Holder) -> NovaError:
    """NOVA-3003 naming the action that holds the target, who started it, when and where."""
    try:
        title = actions.get(holder.action).title.lower()
    except KeyError:
        title = holder.action
    return NovaError(Code.OPERATION_IN_PROGRESS, target_name, holder.still_running(title))


def confirmation_problem(request: Request) -> NovaError | None:
    """The registry's confirmation rule for this request, checked (None when satisfied)."""
    spec = request.spec
    name = request.target.name
    if spec.confirm is Confirm.YES_NO and not (request.confirmed or request.typed_name == name):
        return NovaError(Code.NOT_CONFIRMED, f"{spec.title} {name}",
                         "this action needs a yes (--yes on the command line)")
    if spec.confirm is Confirm.TYPE_NAME and request.typed_name != name:
        return NovaError(Code.NOT_CONFIRMED, f"{spec.title} {name}",
                         f"type the VM's name to confirm (--confirm {name} on the command line)")
    return None


def plain_message(error: NovaError) -> str:
    """The message column: the code's plain message and the detail (the cause is apart)."""
    return error.kind.message + (f": {error.detail}" if error.detail else "")


def as_nova(exc: BaseException, request: Request) -> NovaError:
    """Any failure as a NovaError an operator can act on."""
    if isinstance(exc, NovaError):
        return exc
    if isinstance(exc, TimeoutError):
        return NovaError(Code.TIMEOUT, f"{request.spec.title} {request.target.name}",
                         "the backend did not answer in time")
    return NovaError(Code.BACKEND_ERROR, f"{request.spec.title} {request.target.name}",
                     f"{type(exc).__name__}: {exc}")


class UnavailableAudit:
    """Stands in when the store could not be opened: every mutating action is then refused
    by `_run_locked` (the audit row cannot be written), refusals are only logged."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def begin_action(self, **fields: Any) -> int:
        raise RuntimeError(self.reason)

    async def finish_action(self, action_id: int, **fields: Any) -> None:
        raise RuntimeError(self.reason)

    async def record_refusal(self, **fields: Any) -> None:
        raise RuntimeError(self.reason)
