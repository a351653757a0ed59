"""A migration started outside the console (`virsh migrate`) shows up on the tracker, in the lab.

The fleet polls the real lab hosts and hands every snapshot to `AdoptionWatch`, as the app
does; `virsh migrate --p2p` runs as a background process the console knows nothing of. Checks
are made with `virsh -c <uri> list` on each host, not with our own code. The lab is the shared
session fixture (`lab_fixture.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from backends.libvirt.migration import migration_uri
from console.migration.adopt import ADOPTED_NOTE, AdoptionWatch
from console.migration.state import MigrationState
from console.models import MigrationPhase
from tests.integration import test_migration_lab
from tests.integration.lab_fixture import HOSTS, VMS_PER_HOST, lab, lab_session, virsh  # noqa: F401
from tests.integration.test_migration_lab import Rig, a_guest, defined_on, running_on

pytestmark = pytest.mark.integration
the_lab, rig = test_migration_lab.the_lab, test_migration_lab.rig  # its fixtures, as they are


@pytest.fixture
async def watch(rig: Rig) -> AsyncIterator[AdoptionWatch]:
    """The rig's fleet polling every second, each snapshot fed to an adoption watch (as the
    app does with the snapshots it receives)."""
    adoption = AdoptionWatch(rig.tracker)
    rig.fleet.interval_s = 1.0
    rig.fleet.on_snapshot(adoption.feed)
    await rig.fleet.start()
    try:
        yield adoption
    finally:
        rig.fleet.on_snapshot(None)
        await adoption.settled()


def all_running(rig: Rig) -> int:
    return sum(len(running_on(rig, h.name)) for h in rig.lab.hosts())


@dataclass
class Outside:
    """A `virsh migrate` the console knows nothing of; `rc`, `err` once it has ended."""

    name: str
    source: str
    target: str
    proc: asyncio.subprocess.Process
    rc: int | None = None
    err: str = ""


@contextlib.asynccontextmanager
async def virsh_migrate(rig: Rig, bandwidth_mib_s: int) -> AsyncIterator[Outside]:
    """`virsh migrate` on a guest's host, as an operator at another terminal would run it.

    With `--auto-converge`: a lab guest dirties 32 MiB every 4 s, about as fast as 8 MiB/s
    sends it, so on a quiet machine an unthrottled migration may never converge (seen: 79
    iterations in 212 s); auto-converge slows the guest's vCPU until it does.

    On leaving, waits for virsh to end; after a failure, aborts the job first (the lab stays
    usable for the next test)."""
    name, source, target = a_guest(rig)
    target_uri = rig.uri(target)
    data_uri = migration_uri(target_uri)  # the target picks a port in its own range
    assert data_uri is not None
    proc = await asyncio.create_subprocess_exec(
        "virsh", "-c", rig.uri(source), "migrate", "--live", "--p2p", "--persistent",
        "--undefinesource", "--auto-converge", "--bandwidth", str(bandwidth_mib_s), name, target_uri,
        "--migrateuri", data_uri,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    run = Outside(name, source, target, proc)
    failed = True
    try:
        yield run
        failed = False
    finally:
        if failed and proc.returncode is None:
            virsh(rig.uri(source), "domjobabort", name)
        _, err = await asyncio.wait_for(proc.communicate(), 600)
        run.rc, run.err = proc.returncode, err.decode(errors="replace")


async def adopted(rig: Rig, run: Outside, limit_s: float = 180) -> MigrationState:
    """The tracker's state for the guest once adopted and showing bytes sent."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        for state in rig.tracker.states():
            if (state.vm_name == run.name and state.adopted and state.progress is not None
                    and state.progress.data_processed > 0):
                return state
        if run.proc.returncode is not None:
            raise AssertionError(f"virsh migrate ended (rc {run.proc.returncode}) before the "
                                 "tracker adopted it")
        await asyncio.sleep(0.2)
    raise AssertionError(f"never adopted; tracker has {rig.tracker.states()}")


async def test_a_virsh_migration_is_adopted_and_followed_to_the_end(
        rig: Rig, watch: AdoptionWatch) -> None:
    async with virsh_migrate(rig, bandwidth_mib_s=8) as run:
        state = await adopted(rig, run)
        assert (state.source, state.target, state.note) == (run.source, run.target, ADOPTED_NOTE)
        assert state.progress is not None and state.progress.target == run.target
        assert state.progress.data_total > 0 and state.active
        final = await asyncio.wait_for(rig.tracker.wait(state.id), 600)
    assert run.rc == 0, run.err
    assert final.phase is MigrationPhase.DONE, final.error
    assert final.percent == 100
    assert run.name in running_on(rig, run.target)
    assert run.name not in defined_on(rig, run.source)
    assert await rig.store.migrations() == []  # not this console's: not in its history
    await rig.fleet.poll_once()  # later snapshots show it running on the target: no new card
    await watch.settled()
    assert [s.id for s in rig.tracker.states() if s.vm_name == run.name] == [state.id]
    assert all_running(rig) == HOSTS * VMS_PER_HOST


async def test_cancelling_an_adopted_migration_keeps_the_guest_on_its_source(
        rig: Rig, watch: AdoptionWatch) -> None:
    async with virsh_migrate(rig, bandwidth_mib_s=1) as run:  # slow enough to cancel
        state = await adopted(rig, run)
        await rig.tracker.cancel(state.id)
        final = await asyncio.wait_for(rig.tracker.wait(state.id), 300)
    assert final.phase is MigrationPhase.CANCELLED, final
    assert run.rc != 0 and "abort" in run.err.lower(), run.err  # virsh saw its job aborted
    assert run.name in running_on(rig, run.source)
    assert run.name not in defined_on(rig, run.target)
    assert all_running(rig) == HOSTS * VMS_PER_HOST
