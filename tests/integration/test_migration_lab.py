"""Live migration against the real lab: libvirtd hosts in namespaces with running guests.

Checks are made with `virsh -c <uri> list` on each host, not with our own code. The lab is
the shared session fixture (`lab_fixture.py`); `NOVACRON_MIGRATION_LAB_ROOT=/path` uses an
already running lab at that root instead (a developer's own, with its recorded port offset).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from backends.base import MigrationOptions
from backends.libvirt.backend import LibvirtBackend
from console.actions.dispatcher import Dispatcher
from console.errors import NovaError
from console.fleet.polling import Fleet
from console.lab.context import context_block
from console.lab.lab import Lab
from console.migration.dispatch import dispatcher_door
from console.migration.drain import drain
from console.migration.history import History
from console.migration.tracker import MigrationTracker
from console.models import VM, FleetSnapshot, Host, MigrationPhase, VMState
from console.store import Store
from tests.integration.lab_fixture import guest_names, lab, lab_session  # noqa: F401

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SLOW_MIB_S = 1


@pytest.fixture
def the_lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    own = os.environ.get("NOVACRON_MIGRATION_LAB_ROOT")
    if own:
        yield Lab(root=own)
    else:
        yield request.getfixturevalue("lab")


@dataclass
class Rig:
    lab: Lab
    fleet: Fleet
    tracker: MigrationTracker
    store: Store
    db: Path

    def uri(self, host: str) -> str:
        return self.lab.host(host).uri

    async def snapshot(self) -> FleetSnapshot:
        return await self.fleet.poll_once()

    async def vm(self, name: str) -> VM:
        snap = await self.snapshot()
        return next(v for v in snap.vms if v.name == name and v.state is not VMState.MIGRATING)

    async def host(self, name: str) -> Host:
        return next(h for h in (await self.snapshot()).hosts if h.name == name)


def make_tracker(fleet: Fleet, store: Store) -> MigrationTracker:
    dispatcher = Dispatcher(fleet.backends, audit=store, context="lab", read_only=False)
    return MigrationTracker(fleet.backends, context="lab",
                            history=History(store, lambda: fleet.backends),
                            door=dispatcher_door(dispatcher, origin="test"), poll_interval_s=0.5)


@pytest.fixture
async def rig(the_lab: Lab, tmp_path: Path) -> AsyncIterator[Rig]:
    backends = [LibvirtBackend(h.name, h.uri) for h in the_lab.hosts()]
    fleet = Fleet("lab", backends)
    db = tmp_path / "novacron.db"
    store = await Store.open(db)
    tracker = make_tracker(fleet, store)
    try:
        yield Rig(the_lab, fleet, tracker, store, db)
    finally:
        await tracker.close()
        await fleet.stop()
        await store.close()


def a_guest(rig: Rig) -> tuple[str, str, str]:
    """(guest, its host, another host): guests wander between tests, so look them up."""
    hosts = [h.name for h in rig.lab.hosts()]
    source = max(hosts, key=lambda h: len(running_on(rig, h)))
    target = min((h for h in hosts if h != source), key=lambda h: len(running_on(rig, h)))
    return running_on(rig, source)[0], source, target


def running_on(rig: Rig, host: str) -> list[str]:
    return guest_names(rig.uri(host))


def defined_on(rig: Rig, host: str) -> list[str]:
    return guest_names(rig.uri(host), all_states=True)


async def wait_for_bytes(rig: Rig, migration_id: str, at_least: int = 1,
                         limit_s: float = 60) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        state = rig.tracker.get(migration_id)
        assert state is not None and state.active, state
        if state.progress is not None and state.progress.data_processed >= at_least:
            return
        await asyncio.sleep(0.2)
    raise AssertionError("the migration never started sending")


async def test_live_migration_moves_the_guest(rig: Rig) -> None:
    name, source, target = a_guest(rig)
    vm = await rig.vm(name)
    state = await rig.tracker.migrate(vm, await rig.host(target))
    assert state.phase is MigrationPhase.DONE, state.error
    assert state.percent == 100
    assert name in running_on(rig, target)
    assert name not in defined_on(rig, source)  # undefined on the source (default)
    rows = await rig.store.migrations()
    assert rows[0].vm_name == name and rows[0].phase is MigrationPhase.DONE
    assert rows[0].stats["data_total"] > 0


async def test_cancel_a_throttled_migration_keeps_the_guest_on_its_source(rig: Rig) -> None:
    name, source, target = a_guest(rig)
    vm = await rig.vm(name)
    state = await rig.tracker.start(vm, await rig.host(target),
                                    MigrationOptions(bandwidth_mib_s=SLOW_MIB_S))
    await wait_for_bytes(rig, state.id)
    running = rig.tracker.get(state.id)
    assert running is not None and running.progress is not None
    assert running.progress.throughput_bps <= 2.5 * SLOW_MIB_S * 2**20
    await rig.tracker.cancel(state.id)
    final = await rig.tracker.wait(state.id)
    assert final.phase is MigrationPhase.CANCELLED
    assert name in running_on(rig, source)
    assert name not in defined_on(rig, target)


async def test_migrating_a_vm_already_being_migrated_is_refused(rig: Rig) -> None:
    name, source, target_name = a_guest(rig)
    vm = await rig.vm(name)
    target = await rig.host(target_name)
    state = await rig.tracker.start(vm, target, MigrationOptions(bandwidth_mib_s=SLOW_MIB_S))
    try:
        with pytest.raises(NovaError) as here:
            await rig.tracker.start(vm, target)
        assert here.value.code == "NOVA-3003" and "already being migrated" in str(here.value)
        await wait_for_bytes(rig, state.id)
        other = make_tracker(rig.fleet, rig.store)  # another console: only the host knows
        with pytest.raises(NovaError) as there:
            await other.start(vm, target)
        assert there.value.code == "NOVA-3003"
    finally:
        await rig.tracker.cancel(state.id)
        await rig.tracker.wait(state.id)
    assert name in running_on(rig, source)


async def test_drain_empties_the_host(rig: Rig) -> None:
    hosts = [h.name for h in rig.lab.hosts()]
    busiest = max(hosts, key=lambda h: len(running_on(rig, h)))
    before = running_on(rig, busiest)
    assert len(before) >= 2
    summary = await drain(rig.tracker, busiest, await rig.snapshot(), concurrency=2)
    assert not summary.failed, summary.lines()
    assert len(summary.moved) == len(before)
    assert running_on(rig, busiest) == []
    elsewhere = [g for h in hosts if h != busiest for g in running_on(rig, h)]
    assert set(before) <= set(elsewhere)


async def test_killed_console_mid_migration_then_restart_shows_the_true_outcome(
        rig: Rig, tmp_path: Path) -> None:
    name, source, target = a_guest(rig)
    config = tmp_path / "config.toml"  # this lab only: never a context the user has open
    config.write_text(context_block([(h.name, h.uri) for h in rig.lab.hosts()], None))
    env = {**os.environ, "NOVACRON_STATE_DIR": str(rig.db.parent), "NOVACRON_CONFIG": str(config)}
    await rig.store.close()  # the CLI writes the same database
    cli = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "console.cli.main", "--context", "lab", "vm", "migrate", name,
        "--to", target, "--bandwidth", "8", "--auto-converge",  # converges however fast the guest dirties
        cwd=ROOT, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        backend = rig.fleet.backends[source]
        vm = await rig.vm(name)
        while time.monotonic() < deadline:
            progress = await backend.migration_progress(vm.id)  # type: ignore[attr-defined]
            if progress is not None and progress.data_processed > 0:
                break
            assert cli.returncode is None, "the CLI ended before it could be killed"
            await asyncio.sleep(0.2)
        else:
            raise AssertionError("the CLI's migration never started")
        cli.send_signal(signal.SIGKILL)
        await asyncio.wait_for(cli.wait(), 10)
    finally:
        if cli.returncode is None:
            cli.kill()
            await cli.wait()
    store = await Store.open(rig.db)
    rig.store = store
    unfinished = await store.unfinished_migrations("lab")
    assert [r.vm_name for r in unfinished] == [name]
    restarted = make_tracker(rig.fleet, store)
    found = await restarted.recover()
    assert [s.vm_name for s in found] == [name]
    final = await asyncio.wait_for(restarted.wait(found[0].id), 300)
    # Peer-to-peer: the source host finished the job without the killed console.
    assert final.phase is MigrationPhase.DONE, final.error
    assert name in running_on(rig, target)
    assert name not in defined_on(rig, source)
    assert await store.unfinished_migrations("lab") == []
    await restarted.close()
