"""vMotion through the migration tracker and the dispatcher (audit row, per-VM lock), against
vcsim: RelocateVM_Task moves the VM, and vCenter's `runtime.host` says where it went.

vcsim finishes a relocate task at once: there is no progress to watch and nothing running to
cancel, so those paths are unit-tested (tests/unit/test_vsphere_migration.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pyVmomi import vim

from backends.vsphere.backend import VsphereBackend
from backends.vsphere.session import Endpoint
from console.actions.dispatcher import Dispatcher
from console.errors import Code, NovaError
from console.fleet.polling import Fleet
from console.migration.dispatch import dispatcher_door
from console.migration.history import History
from console.migration.tracker import MigrationTracker
from console.models import MigrationPhase
from console.store import Store
from tests.integration import vcsim_fixture as vf

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sim() -> Iterator[vf.Vcsim]:
    with vf.running_vcsim() as running:
        yield running


@pytest.fixture(scope="module")
def api(sim: vf.Vcsim) -> Iterator[Any]:
    with vf.observer(sim) as si:
        yield si


@pytest.fixture
async def rig(sim: vf.Vcsim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
              ) -> AsyncIterator[tuple[Fleet, MigrationTracker, Store]]:
    monkeypatch.setenv("VSPHERE_USER", sim.user)
    monkeypatch.setenv("VSPHERE_PASSWORD", sim.password)
    backend = VsphereBackend("vc", Endpoint("127.0.0.1", sim.port, ca_file=sim.ca_file))
    fleet = Fleet("vsphere", [backend], interval_s=3600)
    store = await Store.open(tmp_path / "novacron.db")
    dispatcher = Dispatcher(fleet.backends, audit=store, context="vsphere", read_only=False)
    tracker = MigrationTracker(fleet.backends, context="vsphere",
                               history=History(store, lambda: fleet.backends),
                               door=dispatcher_door(dispatcher, origin="test"), poll_interval_s=0.2)
    try:
        yield fleet, tracker, store
    finally:
        await tracker.close()
        await fleet.stop()
        await store.close()


def host_of(api: Any, vm_name: str) -> str:
    vms = vf.all_of(api, vim.VirtualMachine, ["name", "runtime.host"])
    hosts = vf.all_of(api, vim.HostSystem, ["name"])
    moid = next(p["runtime.host"]._moId for p in vms.values() if p["name"] == vm_name)
    return hosts[moid]["name"]


@pytest.mark.parametrize(("vm_name", "target"), [
    ("DC0_C0_RP0_VM0", "another host of its cluster"),
    ("DC0_C0_RP0_VM1", "DC0_H0"),  # out of the cluster: the standalone host's resource pool
])
async def test_vmotion_on_the_board_moves_the_vm(
    rig: tuple[Fleet, MigrationTracker, Store], api: Any, vm_name: str, target: str,
) -> None:
    fleet, tracker, store = rig
    snap = await fleet.poll_once()
    vm = next(v for v in snap.vms if v.name == vm_name)
    source = host_of(api, vm_name)
    assert vm.host == source
    if target == "another host of its cluster":
        target = next(h.name for h in snap.hosts if h.cluster == "DC0_C0" and h.name != source)
    host = next(h for h in snap.hosts if h.name == target)

    state = await tracker.migrate(vm, host)

    assert state.phase is MigrationPhase.DONE, state.error
    assert host_of(api, vm_name) == target  # vCenter says it runs there now
    moved = next(v for v in (await fleet.poll_once()).vms if v.id == vm.id)
    assert moved.host == target and moved.id == vm.id  # same VM, same id, new host
    audit = await store.audit(limit=5)
    row = next(e for e in audit if e.action == "vm.migrate")
    assert row.status.value == "ok" and row.target_id == vm.key
    assert row.params["target"] == target
    history = await store.migrations()
    assert history[0].vm_name == vm_name and history[0].phase is MigrationPhase.DONE


async def test_vmotion_to_its_own_host_or_an_unknown_host_is_refused(
    rig: tuple[Fleet, MigrationTracker, Store],
) -> None:
    fleet, _tracker, _store = rig
    snap = await fleet.poll_once()
    backend = fleet.backends["vc"]
    assert isinstance(backend, VsphereBackend)
    vm = next(v for v in snap.vms if v.name == "DC0_H0_VM0")
    with pytest.raises(NovaError) as same:
        await backend.migrate_to(vm.id, target=vm.host, target_uri="")
    assert same.value.kind is Code.INVALID_STATE and "already runs" in same.value.cause
    with pytest.raises(NovaError) as unknown:
        await backend.migrate_to(vm.id, target="no-such-host", target_uri="")
    assert unknown.value.kind is Code.VM_NOT_FOUND and "no-such-host" in str(unknown.value)
    # vcsim's tasks are over before anyone looks: no vMotion is running, nothing to cancel.
    assert await backend.migration_progress(vm.id) is None
    with pytest.raises(NovaError) as nothing:
        await backend.cancel_migration(vm.id)
    assert nothing.value.kind is Code.INVALID_STATE
    with pytest.raises(NovaError) as post_copy:
        await backend.start_post_copy(vm.id)
    assert post_copy.value.kind is Code.NOT_SUPPORTED
    presence = await backend.presence(vm.id)
    assert presence.present and presence.active and not presence.migrating_out
    assert not (await backend.presence("00000000-0000-0000-0000-000000000000")).present
