"""The vSphere backend against vcsim (VMware's vCenter simulator) on 127.0.0.1, with TLS
verified against a CA made for the test. Every action is checked afterwards through a second,
independent pyVmomi session reading the property an operator would look at.

vcsim's default inventory with four VMs per host/pool: one datacenter, a standalone host with
four VMs (DC0_H0_VM0-3), a three-host cluster DC0_C0 with four (DC0_C0_RP0_VM0-3). Each test
that changes a VM uses its own VM, so the order of tests does not matter.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pyVmomi import vim

from backends.vsphere.backend import VsphereBackend
from backends.vsphere.session import Endpoint
from console.errors import Code, NovaError
from console.fleet.polling import Fleet
from console.models import HostState, VMState
from tests.integration import vcsim_fixture as vf

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sim() -> Iterator[vf.Vcsim]:
    with vf.running_vcsim("-vm", "4") as running:
        yield running


@pytest.fixture(scope="module")
def api(sim: vf.Vcsim) -> Iterator[Any]:
    with vf.observer(sim) as si:
        yield si


def endpoint(sim: vf.Vcsim, **changes: Any) -> Endpoint:
    return Endpoint(**{"host": "127.0.0.1", "port": sim.port, "ca_file": sim.ca_file, **changes})


@pytest.fixture
async def backend(sim: vf.Vcsim, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[VsphereBackend]:
    monkeypatch.setenv("VSPHERE_USER", sim.user)
    monkeypatch.setenv("VSPHERE_PASSWORD", sim.password)
    opened = VsphereBackend("vc", endpoint(sim))
    yield opened
    await opened.close()


async def vm_named(backend: VsphereBackend, name: str) -> Any:
    return next(vm for vm in await backend.vms() if vm.name == name)


def api_vm(api: Any, name: str) -> Any:
    moid = next(m for m, p in vf.all_of(api, vim.VirtualMachine, ["name"]).items() if p["name"] == name)
    return vim.VirtualMachine(moid, api._stub)


def power(api: Any, name: str) -> str:
    return vf.read(api, api_vm(api, name), ["runtime.powerState"])["runtime.powerState"]


async def test_inventory_is_what_vcenter_lists_in_one_retrieval(backend: VsphereBackend, api: Any) -> None:
    hosts, vms = await asyncio.gather(backend.hosts(), backend.vms())
    assert backend.stats.retrievals == 1  # hosts() and vms() of one poll share one retrieval
    assert backend.stats.soap_calls == 1

    listed = vf.all_of(api, vim.VirtualMachine, ["name", "runtime.powerState", "runtime.host",
                                                 "config.instanceUuid", "config.hardware.numCPU",
                                                 "config.hardware.memoryMB"])
    api_hosts = vf.all_of(api, vim.HostSystem, ["name", "parent", "summary.hardware.memorySize"])
    assert {vm.id for vm in vms} == {p["config.instanceUuid"] for p in listed.values()}
    by_id = {vm.id: vm for vm in vms}
    states = {"poweredOn": VMState.RUNNING, "poweredOff": VMState.STOPPED, "suspended": VMState.SUSPENDED}
    for props in listed.values():
        vm = by_id[props["config.instanceUuid"]]
        assert vm.name == props["name"]
        assert vm.state is states[props["runtime.powerState"]]
        assert vm.host == api_hosts[props["runtime.host"]._moId]["name"]
        assert vm.vcpus == props["config.hardware.numCPU"]
        assert vm.memory_bytes == props["config.hardware.memoryMB"] * 2**20
        assert "dc=DC0" in vm.tags

    assert {h.name for h in hosts} == {p["name"] for p in api_hosts.values()}
    for host in hosts:
        assert host.state is HostState.UP
        assert host.memory_bytes == api_hosts[host.id]["summary.hardware.memorySize"]
        assert host.cpus > 0 and host.free_memory_bytes is not None
        assert host.uri.endswith(f"/host/{host.id}")
        assert host.datacenter == "DC0"
    clustered = {h.name: h.cluster for h in hosts}
    assert clustered["DC0_H0"] == ""  # the standalone host
    assert {clustered[f"DC0_C0_H{i}"] for i in range(3)} == {"DC0_C0"}
    assert "cluster=DC0_C0" in (await vm_named(backend, "DC0_C0_RP0_VM0")).tags


async def test_power_actions_change_what_vcenter_reports(backend: VsphereBackend, api: Any) -> None:
    vm = await vm_named(backend, "DC0_H0_VM0")
    with pytest.raises(NovaError) as running:
        await backend.start(vm.id)
    assert running.value.kind is Code.INVALID_STATE and "already running" in str(running.value)

    await backend.suspend(vm.id)
    assert power(api, vm.name) == "suspended"
    await backend.resume(vm.id)
    assert power(api, vm.name) == "poweredOn"
    with pytest.raises(NovaError) as not_suspended:
        await backend.resume(vm.id)
    assert not_suspended.value.kind is Code.INVALID_STATE

    await backend.force_off(vm.id)
    assert power(api, vm.name) == "poweredOff"
    await backend.start(vm.id)
    assert power(api, vm.name) == "poweredOn"

    # vcsim honours ShutdownGuest without Tools (a real ESXi refuses: ToolsUnavailable);
    # the backend waits until vCenter reports poweredOff before it returns.
    await backend.shutdown(vm.id, timeout_s=30)
    assert power(api, vm.name) == "poweredOff"
    with pytest.raises(NovaError) as off:
        await backend.shutdown(vm.id)
    assert off.value.kind is Code.INVALID_STATE and "poweredOff" in str(off.value)


async def test_guest_reboot_is_refused_clearly_by_vcsim(backend: VsphereBackend, api: Any) -> None:
    vm = await vm_named(backend, "DC0_H0_VM1")
    with pytest.raises(NovaError) as refused:
        await backend.reboot(vm.id)
    assert refused.value.kind is Code.NOT_SUPPORTED
    assert "RebootGuest" in str(refused.value) and "MethodNotFound" in refused.value.cause
    assert power(api, vm.name) == "poweredOn"  # nothing was done in its place


async def test_snapshots_create_list_revert_delete(backend: VsphereBackend, api: Any) -> None:
    vm = await vm_named(backend, "DC0_H0_VM2")
    await backend.create_snapshot(vm.id, "before-upgrade", "kept for a day")
    await backend.create_snapshot(vm.id, "after-upgrade")

    def tree() -> tuple[list[str], str]:
        info = vf.read(api, api_vm(api, vm.name), ["snapshot"]).get("snapshot")
        if info is None:
            return [], ""
        nodes = list(_walk(info.rootSnapshotList))
        current = next(n.name for n in nodes if n.snapshot == info.currentSnapshot)
        return [n.name for n in nodes], current

    assert tree() == (["before-upgrade", "after-upgrade"], "after-upgrade")
    listed = await backend.snapshots(vm.id)
    assert [(s.name, s.current) for s in listed] == [("before-upgrade", False), ("after-upgrade", True)]
    assert listed[0].description == "kept for a day" and listed[0].created_at > 0

    with pytest.raises(NovaError) as twice:
        await backend.create_snapshot(vm.id, "before-upgrade")
    assert twice.value.kind is Code.INVALID_STATE
    assert tree()[0] == ["before-upgrade", "after-upgrade"]  # no second one

    await backend.revert_snapshot(vm.id, "before-upgrade")
    assert tree()[1] == "before-upgrade"
    await backend.delete_snapshot(vm.id, "after-upgrade")
    assert tree()[0] == ["before-upgrade"]
    with pytest.raises(NovaError) as unknown:
        await backend.delete_snapshot(vm.id, "no-such-snapshot")
    assert unknown.value.kind is Code.VM_NOT_FOUND and "before-upgrade" in unknown.value.cause


def _walk(nodes: Any) -> Iterator[Any]:
    for node in nodes or ():
        yield node
        yield from _walk(node.childSnapshotList)


async def test_delete_unregisters_or_destroys(backend: VsphereBackend, api: Any) -> None:
    kept = await vm_named(backend, "DC0_H0_VM3")
    gone = await vm_named(backend, "DC0_C0_RP0_VM3")
    assert await backend.delete(kept.id) == []
    assert await backend.delete(gone.id, remove_storage=True) == []
    names = {p["name"] for p in vf.all_of(api, vim.VirtualMachine, ["name"]).values()}
    assert kept.name not in names and gone.name not in names
    assert {vm.name for vm in await backend.vms()}.isdisjoint({kept.name, gone.name})


async def test_an_unknown_vm_is_named_in_a_clear_error(backend: VsphereBackend) -> None:
    await backend.vms()
    with pytest.raises(NovaError) as by_uuid:
        await backend.start("00000000-0000-0000-0000-000000000000")
    assert by_uuid.value.kind is Code.VM_NOT_FOUND
    assert "00000000-0000-0000-0000-000000000000" in str(by_uuid.value)
    with pytest.raises(NovaError) as by_moid:
        await backend.force_off("vm-99999")
    assert by_moid.value.kind is Code.VM_NOT_FOUND
    assert "ManagedObjectNotFound" in by_moid.value.cause


async def test_bad_credentials_are_refused_clearly(sim: vf.Vcsim, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VSPHERE_USER", sim.user)
    monkeypatch.setenv("VSPHERE_PASSWORD", "wrong")
    backend = VsphereBackend("vc", endpoint(sim))
    try:
        with pytest.raises(NovaError) as refused:
            await backend.vms()
    finally:
        await backend.close()
    assert refused.value.kind is Code.PERMISSION_DENIED
    assert "InvalidLogin" in refused.value.cause and "VSPHERE_PASSWORD" in refused.value.cause
    assert "wrong" not in str(refused.value)


async def test_an_untrusted_certificate_is_refused(sim: vf.Vcsim, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VSPHERE_USER", sim.user)
    monkeypatch.setenv("VSPHERE_PASSWORD", sim.password)
    backend = VsphereBackend("vc", endpoint(sim, ca_file=None))  # the system store: not our CA
    try:
        with pytest.raises(NovaError) as refused:
            await backend.hosts()
    finally:
        await backend.close()
    assert refused.value.kind is Code.HOST_UNREACHABLE and "ca_file" in refused.value.cause


async def test_an_expired_session_logs_in_again(backend: VsphereBackend) -> None:
    before = len(await backend.vms())
    backend.session.content().sessionManager.Logout()  # as vCenter does to an idle session
    assert len(await backend.vms()) == before
    assert backend.session.logins == 2


async def test_datacenter_filter(sim: vf.Vcsim, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VSPHERE_USER", sim.user)
    monkeypatch.setenv("VSPHERE_PASSWORD", sim.password)
    scoped = VsphereBackend("vc", endpoint(sim), datacenters=("DC0",))
    wrong = VsphereBackend("vc", endpoint(sim), datacenters=("DC9",))
    try:
        assert {h.datacenter for h in await scoped.hosts()} == {"DC0"}
        with pytest.raises(NovaError) as unknown:
            await wrong.vms()
        assert unknown.value.kind is Code.CONFIG_INVALID and "DC9" in str(unknown.value)
    finally:
        await scoped.close()
        await wrong.close()


async def test_a_change_made_by_another_client_arrives_without_a_poll(
    backend: VsphereBackend, api: Any,
) -> None:
    vm = await vm_named(backend, "DC0_C0_RP0_VM2")
    changed = asyncio.Event()
    backend.watch(changed.set)
    stream = backend.update_stream
    assert stream is not None
    await _until(lambda: stream.ready, "the update stream's initial state")
    await backend.vms()  # a full read after the stream is up: patches apply from here
    retrievals = backend.stats.retrievals
    changed.clear()
    vf.wait_task(api_vm(api, vm.name).PowerOffVM_Task())  # someone else, in the vSphere client
    await asyncio.wait_for(changed.wait(), 30)
    assert backend.stats.retrievals == retrievals  # told by the stream, not found by polling
    # The poll the change triggers is answered from the patched inventory: no retrieval.
    assert (await vm_named(backend, vm.name)).state is VMState.STOPPED
    assert backend.stats.retrievals == retrievals and backend.stats.patched == 1
    # A change the patch cannot rebuild (a new name is patchable; a vMotion is not) is read.
    changed.clear()
    target = next(h.name for h in await backend.hosts() if h.cluster == "DC0_C0" and h.name != vm.host)
    place = backend._last.host_places[target]
    vf.wait_task(api_vm(api, vm.name).RelocateVM_Task(
        spec=vim.vm.RelocateSpec(host=vim.HostSystem(place.moid, api._stub))))
    await asyncio.wait_for(changed.wait(), 30)
    assert (await vm_named(backend, vm.name)).host == target
    assert backend.stats.retrievals == retrievals + 1


async def _until(predicate: Any, what: str, timeout_s: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate():
        assert loop.time() < deadline, f"{what} never came"
        await asyncio.sleep(0.05)


async def test_metrics_for_every_host_and_running_vm_in_one_query(backend: VsphereBackend) -> None:
    hosts, vms = await backend.hosts(), await backend.vms()
    samples = await backend.samples()
    targets = {(s.target, s.metric) for s in samples}
    running = [vm for vm in vms if vm.state is VMState.RUNNING]
    for host in hosts:
        assert {(f"host:{host.name}", "cpu"), (f"host:{host.name}", "memory")} <= targets
    for vm in running:
        assert (f"vm:vc/{vm.id}", "cpu") in targets
    assert all(s.value >= 0 for s in samples)
    assert backend.metrics_label == "vSphere performance counters"
    host = hosts[0]
    points = await backend.series(f"host:{host.name}", "cpu", 600)
    assert points and all(value >= 0 for _t, value in points)
    assert await backend.alerts() == []  # vcsim raises no alarms (conversion: unit-tested)


async def test_samples_follow_a_vm_started_within_the_sampling_interval(
        backend: VsphereBackend, api: Any) -> None:
    """Samples are reused within vCenter's 20 s real-time interval, but not once the running
    VMs changed: a VM powered on since the last answer is asked about at once."""
    vm = await vm_named(backend, "DC0_H0_VM1")
    if power(api, vm.name) == "poweredOn":
        await backend.force_off(vm.id)
    await backend.vms()
    first = {s.target for s in await backend.samples()}
    assert f"vm:vc/{vm.id}" not in first
    await backend.start(vm.id)
    await backend.vms()
    second = {s.target for s in await backend.samples()}
    assert f"vm:vc/{vm.id}" in second
    assert first < second


async def test_hostile_names_are_made_inert(backend: VsphereBackend, api: Any) -> None:
    evil = "evil\x9b31m\u202eVM"  # C1 CSI and a bidi override (SOAP's XML cannot carry ESC)
    vf.wait_task(api_vm(api, "DC0_C0_RP0_VM1").Rename_Task(evil))
    try:
        names = {vm.name for vm in await backend.vms()}
        shown = next(n for n in names if n.startswith("evil"))
        assert "\x9b" not in shown and "\u202e" not in shown and shown.endswith("VM")
    finally:
        vf.wait_task(api_vm(api, evil).Rename_Task("DC0_C0_RP0_VM1"))


async def test_an_unreachable_vcenter_is_stale_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VSPHERE_USER", "u")
    monkeypatch.setenv("VSPHERE_PASSWORD", "p")
    backend = VsphereBackend("vc", Endpoint("127.0.0.1", vf.free_port()), timeout_s=5)
    fleet = Fleet("vc", [backend])
    try:
        snap = await fleet.poll_once()
    finally:
        await fleet.stop()
    assert [h.stale for h in snap.hosts] == [True]
    assert "NOVA-2001" in snap.hosts[0].error
    assert not snap.health[0].ok


async def test_a_read_only_source_refuses_actions(sim: vf.Vcsim, api: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VSPHERE_USER", sim.user)
    monkeypatch.setenv("VSPHERE_PASSWORD", sim.password)
    backend = VsphereBackend("vc", endpoint(sim), read_only=True)
    try:
        vm = await vm_named(backend, "DC0_C0_RP0_VM1")
        with pytest.raises(NovaError) as refused:
            await backend.force_off(vm.id)
    finally:
        await backend.close()
    assert refused.value.kind is Code.READ_ONLY
    assert power(api, "DC0_C0_RP0_VM1") == "poweredOn"
