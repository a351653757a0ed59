"""The tracker against a fake migrating backend: refusal, progress, cancel, history, recover."""

from __future__ import annotations

import asyncio

import pytest

from backends.base import DomainPresence, MigrationOptions
from console.errors import Code, NovaError
from console.migration_drain import drain
from console.migration_history import History
from console.migrations import MigrationTracker
from console.models import VM, FleetSnapshot, Host, Migration, MigrationPhase, VMState

MIB = 2**20


class FakeHost:
    """A host whose migrations advance 32 MiB per progress read."""

    kind = "fake"

    def __init__(self, name: str, world: dict[str, str]) -> None:
        self.name = self.host_name = name
        self.uri = f"fake://{name}"
        self.world = world  # vm_id -> host it runs on
        self.jobs: dict[str, asyncio.Event] = {}
        self.sent: dict[str, int] = {}
        self.step = 32  # MiB sent per progress read

    async def hosts(self): return []
    async def vms(self): return []
    async def close(self) -> None: ...

    async def migrate(self, vm_id: str, target: FakeHost, options: MigrationOptions | None = None) -> None:
        done = self.jobs[vm_id] = asyncio.Event()
        self.sent[vm_id] = 0
        await done.wait()
        del self.jobs[vm_id]
        if self.sent.pop(vm_id) < 0:
            raise NovaError(Code.BACKEND_ERROR, vm_id, "operation aborted")
        self.world[vm_id] = target.name

    async def migration_progress(self, vm_id: str) -> Migration | None:
        if vm_id not in self.jobs:
            return None
        self.sent[vm_id] += self.step * MIB
        if self.sent[vm_id] >= 128 * MIB:
            self.jobs[vm_id].set()
        return Migration(id=vm_id, vm_id=vm_id, vm_name=vm_id, source=self.name, target="",
                         phase=MigrationPhase.RUNNING, data_total=128 * MIB,
                         data_processed=self.sent[vm_id],
                         data_remaining=128 * MIB - self.sent[vm_id], throughput_bps=32 * MIB)

    async def cancel_migration(self, vm_id: str) -> None:
        self.sent[vm_id] = -1
        self.jobs[vm_id].set()

    async def start_post_copy(self, vm_id: str) -> None: ...

    async def presence(self, vm_id: str) -> DomainPresence:
        here = self.world.get(vm_id) == self.name
        return DomainPresence(present=here, active=here,
                              state=VMState.RUNNING if here else VMState.UNKNOWN,
                              migrating_out=vm_id in self.jobs)


class MemoryStore:
    def __init__(self) -> None:
        self.rows: dict[int, dict[str, object]] = {}

    async def record_migration_start(self, **fields: object) -> int:
        key = len(self.rows) + 1
        self.rows[key] = {**fields, "id": key, "started_at": 1.0, "finished_at": None}
        return key

    async def record_migration_end(self, record_id: int, phase: object, stats: object = None,
                                   error: str = "") -> None:
        self.rows[record_id] |= {"finished_at": 2.0, "phase": phase, "stats": stats}

    async def unfinished_migrations(self, context: str | None = None) -> list[object]:
        from types import SimpleNamespace
        return [SimpleNamespace(**r) for r in self.rows.values() if r["finished_at"] is None]


def setup() -> tuple[dict[str, FakeHost], FleetSnapshot, dict[str, str]]:
    world = {"u1": "h1", "u2": "h1"}
    backends = {n: FakeHost(n, world) for n in ("h1", "h2")}
    hosts = tuple(Host(id=n, name=n, backend=n, cpus=4, memory_bytes=8 * 2**30) for n in backends)
    vms = tuple(VM(id=u, name=f"vm-{u}", state=VMState.RUNNING, host="h1", backend="h1",
                   vcpus=1, memory_bytes=128 * MIB) for u in ("u1", "u2"))
    return backends, FleetSnapshot(context="t", taken_at=0, hosts=hosts, vms=vms), world


async def test_migrate_to_done_with_monotonic_progress_and_history() -> None:
    backends, snap, world = setup()
    store = MemoryStore()
    tracker = MigrationTracker(backends, context="t", history=History(store), poll_interval_s=0.01)
    seen: list[float] = []
    tracker.subscribe(lambda s: seen.append(s.percent))
    state = await tracker.migrate(snap.vms[0], snap.hosts[1])
    assert state.phase is MigrationPhase.DONE and state.percent == 100
    assert seen == sorted(seen)
    assert world["u1"] == "h2"
    assert store.rows[1]["phase"] is MigrationPhase.DONE


async def test_second_migration_of_the_same_vm_is_refused() -> None:
    backends, snap, _ = setup()
    tracker = MigrationTracker(backends, poll_interval_s=10)
    first = await tracker.start(snap.vms[0], snap.hosts[1])
    with pytest.raises(NovaError) as err:
        await tracker.start(snap.vms[0], snap.hosts[1])
    assert err.value.code == "NOVA-3003" and "already being migrated" in str(err.value)
    await asyncio.sleep(0.01)
    await tracker.cancel(first.id)
    assert (await tracker.wait(first.id)).phase is MigrationPhase.CANCELLED


async def test_refused_when_the_host_reports_a_job_another_console_started() -> None:
    backends, snap, _ = setup()
    other = MigrationTracker(backends, poll_interval_s=10)
    state = await other.start(snap.vms[0], snap.hosts[1])
    await asyncio.sleep(0)
    fresh = MigrationTracker(backends)
    with pytest.raises(NovaError) as err:
        await fresh.start(snap.vms[0], snap.hosts[1])
    assert err.value.code == "NOVA-3003"
    await other.cancel(state.id)
    await other.wait(state.id)


async def test_recover_reads_the_true_outcome_from_the_hosts() -> None:
    backends, _snap, world = setup()
    store = MemoryStore()
    await store.record_migration_start(context="t", vm_id="u1", vm_name="vm-u1", source="h1",
                                       target="h2", job_id="a")
    await store.record_migration_start(context="t", vm_id="u2", vm_name="vm-u2", source="h1",
                                       target="h2", job_id="b")
    world["u1"] = "h2"  # finished while no console watched; u2 stayed on h1
    tracker = MigrationTracker(backends, context="t", history=History(store, lambda: backends))
    found = await tracker.recover()
    assert {s.id for s in found} == {"a", "b"}
    a, b = await tracker.wait("a"), await tracker.wait("b")
    assert a.phase is MigrationPhase.DONE
    assert b.phase is MigrationPhase.FAILED and "still on the source" in b.error
    assert not await store.unfinished_migrations()


async def test_drain_moves_everything() -> None:
    backends, snap, world = setup()
    tracker = MigrationTracker(backends, poll_interval_s=0.01)
    summary = await drain(tracker, "h1", snap, concurrency=2)
    assert len(summary.moved) == 2 and not summary.failed
    assert set(world.values()) == {"h2"}
    assert "2 moved" in summary.lines()[0]


class HandOverHost(FakeHost):
    """A target that first fails to answer, then shows the guest on both hosts, then settles."""

    def __init__(self, name: str, world: dict[str, str], answers: list[str]) -> None:
        super().__init__(name, world)
        self.answers = answers

    async def presence(self, vm_id: str) -> DomainPresence:
        answer = self.answers.pop(0) if self.answers else "here"
        if answer == "error":
            raise NovaError(Code.HOST_UNREACHABLE, self.name, "lookup raced the undefine")
        if answer == "both":
            self.world[vm_id] = self.name
            return DomainPresence(present=True, active=True, state=VMState.RUNNING)
        return await super().presence(vm_id)


async def test_recover_waits_through_the_hand_over_instead_of_guessing() -> None:
    world = {"u1": "h1"}
    source = FakeHost("h1", world)
    source_presence = source.presence
    calls: list[bool] = []

    async def source_still_running_once(vm_id: str) -> DomainPresence:
        if not calls:  # first answer: the guest is still active on the source too
            calls.append(True)
            return DomainPresence(present=True, active=True, state=VMState.RUNNING)
        return await source_presence(vm_id)

    source.presence = source_still_running_once  # type: ignore[method-assign]
    target = HandOverHost("h2", world, ["error", "both"])
    backends = {"h1": source, "h2": target}
    store = MemoryStore()
    await store.record_migration_start(context="t", vm_id="u1", vm_name="vm-u1", source="h1",
                                       target="h2", job_id="a")
    tracker = MigrationTracker(backends, context="t", history=History(store, lambda: backends),
                               poll_interval_s=0.01, settle_s=5)
    await tracker.recover()
    final = await tracker.wait("a")
    assert final.phase is MigrationPhase.DONE, final
    assert not target.answers  # it asked again after the error and after the in-between answer
    assert not await store.unfinished_migrations()


async def test_recover_that_never_settles_leaves_the_record_open_and_says_why() -> None:
    world = {"u1": "h1"}
    target = HandOverHost("h2", world, ["error"] * 1000)
    backends = {"h1": FakeHost("h1", world), "h2": target}
    store = MemoryStore()
    await store.record_migration_start(context="t", vm_id="u1", vm_name="vm-u1", source="h1",
                                       target="h2", job_id="a")
    tracker = MigrationTracker(backends, context="t", history=History(store, lambda: backends),
                               poll_interval_s=0.01, settle_s=0.1)
    await tracker.recover()
    final = await tracker.wait("a")
    assert final.active and "outcome unknown" in final.warnings[0]
    assert len(await store.unfinished_migrations()) == 1  # the next restart asks again
