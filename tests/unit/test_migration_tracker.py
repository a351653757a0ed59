"""The tracker against a fake migrating backend: refusal, progress, cancel, history, recover,
and adopting migrations started outside the console (seen in a fleet snapshot)."""

from __future__ import annotations

import asyncio

import pytest

from backends.base import DomainPresence
from console.errors import Code, NovaError
from console.fleet.polling import Fleet
from console.migration.adopt import ADOPTED_NOTE, AdoptionWatch
from console.migration.drain import drain
from console.migration.history import History
from console.migration.tracker import MigrationTracker
from console.models import FleetSnapshot, MigrationPhase, VMState
from tests.unit.migration_fakes import FakeHost, MemoryStore, setup


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


# -- migrations started outside this console -------------------------------------------------


async def fleet_snapshot(backends: dict[str, FakeHost]) -> FleetSnapshot:
    """What the app's fleet would hand over: every fake host polled once."""
    return await Fleet("t", list(backends.values())).poll_once()  # type: ignore[arg-type]


async def started_elsewhere(backends: dict[str, FakeHost], tracker: MigrationTracker,
                            step: int = 32) -> tuple[AdoptionWatch, asyncio.Task[None]]:
    """u1 leaves h1 for h2 behind the tracker's back (`step` MiB a read); one fleet snapshot
    is then fed to a new watch, and its adoption attempt has ended."""
    for host in backends.values():
        host.step = step
    watch = AdoptionWatch(tracker)
    job = backends["h1"].outside("u1", backends["h2"])
    await asyncio.sleep(0)
    watch.feed(await fleet_snapshot(backends))
    await watch.settled()
    return watch, job


async def test_a_migration_started_elsewhere_is_adopted_and_followed_to_done() -> None:
    backends, _snap, world = setup()
    store = MemoryStore()
    tracker = MigrationTracker(backends, context="t", history=History(store, lambda: backends),
                               poll_interval_s=0.01)
    snap = await fleet_snapshot(backends)
    watch, job = await started_elsewhere(backends, tracker, step=8)
    [state] = tracker.states()
    assert state.adopted and state.note == ADOPTED_NOTE and state.active
    assert (state.vm_name, state.source, state.target) == ("vm-u1", "h1", "h2")
    assert state.progress is not None and state.progress.data_processed > 0
    assert state.progress.target == "h2" and state.progress.id == state.id
    snap = await fleet_snapshot(backends)
    assert {(v.host, v.state) for v in snap.vms if v.id == "u1"} == {
        ("h1", VMState.RUNNING), ("h2", VMState.MIGRATING)}
    watch.feed(snap)  # still migrating: followed already
    await watch.settled()
    assert len(tracker.states()) == 1
    final = await tracker.wait(state.id)
    await job
    assert final.phase is MigrationPhase.DONE and final.percent == 100, final
    assert world["u1"] == "h2"
    assert store.rows == {}  # not started here: nothing in this console's history


async def test_one_adoption_attempt_per_vm_however_many_snapshots_arrive() -> None:
    backends, _snap, _world = setup()
    tracker = MigrationTracker(backends, poll_interval_s=10)  # one follow-up read, then a pause
    watch = AdoptionWatch(tracker)
    job = backends["h1"].outside("u1", backends["h2"])
    await asyncio.sleep(0)
    snap = await fleet_snapshot(backends)
    watch.feed(snap)
    watch.feed(snap)  # the fleet publishes after each source's poll: often the same picture
    await watch.settled()
    assert len(tracker.states()) == 1
    assert backends["h1"].progress_reads <= 2  # one check (+ the follower's first read)
    await tracker.close()
    job.cancel()


async def test_cancelling_an_adopted_migration_keeps_the_guest_on_its_source() -> None:
    backends, _snap, world = setup()
    tracker = MigrationTracker(backends, poll_interval_s=0.01)
    _watch, job = await started_elsewhere(backends, tracker, step=1)
    [state] = tracker.states()
    await tracker.cancel(state.id)
    final = await tracker.wait(state.id)
    with pytest.raises(NovaError, match="aborted"):
        await job  # the other console's call fails, as virsh's does
    assert final.phase is MigrationPhase.CANCELLED, final
    assert world["u1"] == "h1"


async def test_a_migration_this_console_started_is_never_adopted() -> None:
    backends, snap, _world = setup()
    for host in backends.values():
        host.step = 1
    tracker = MigrationTracker(backends, poll_interval_s=0.01)
    watch = AdoptionWatch(tracker)
    ours = await tracker.start(snap.vms[0], snap.hosts[1])
    await asyncio.sleep(0.02)
    seen = await fleet_snapshot(backends)
    assert any(v.state is VMState.MIGRATING for v in seen.vms)
    watch.feed(seen)
    await watch.settled()
    assert [s.id for s in tracker.states()] == [ours.id]
    for host in backends.values():
        host.step = 128
    assert (await tracker.wait(ours.id)).phase is MigrationPhase.DONE
    reads = backends["h1"].progress_reads
    watch.feed(seen)  # a snapshot lagging behind our finished migration: the source says no
    await watch.settled()
    assert [s.id for s in tracker.states()] == [ours.id]
    assert backends["h1"].progress_reads == reads + 1
    watch.feed(seen)  # refused a moment ago: not asked again at once
    await watch.settled()
    assert backends["h1"].progress_reads == reads + 1


async def test_recover_takes_over_an_adopted_migration_this_console_had_started() -> None:
    backends, _snap, world = setup()
    store = MemoryStore()
    await store.record_migration_start(context="t", vm_id="u1", vm_name="vm-u1", source="h1",
                                       target="h2", job_id="a")
    tracker = MigrationTracker(backends, context="t", history=History(store, lambda: backends),
                               poll_interval_s=0.01)
    # the previous console's migration, still running, seen in a snapshot before the history
    _watch, job = await started_elsewhere(backends, tracker, step=4)
    [adopted] = tracker.states()
    found = await tracker.recover()
    assert [s.id for s in found] == [adopted.id]
    [state] = tracker.states()
    assert not state.adopted and "restart" in state.note
    assert (await tracker.wait(state.id)).phase is MigrationPhase.DONE
    await job
    assert world["u1"] == "h2"
    assert not await store.unfinished_migrations()  # the old row got its end


async def test_an_adopted_migration_whose_hosts_never_settle_ends_failed_and_says_why() -> None:
    world = {"u1": "h1"}
    backends = {"h1": FakeHost("h1", world), "h2": HandOverHost("h2", world, ["error"] * 1000)}
    tracker = MigrationTracker(backends, poll_interval_s=0.01, settle_s=0.1)
    _watch, job = await started_elsewhere(backends, tracker)
    [state] = tracker.states()
    final = await tracker.wait(state.id)
    await job
    assert final.phase is MigrationPhase.FAILED and "outcome unknown" in final.error, final
