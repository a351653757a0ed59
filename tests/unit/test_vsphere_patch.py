"""Which stream changes patch the inventory and which ask for a full retrieval (`patch.apply`
on plain tuples; the integration test drives it from vcsim's WaitForUpdatesEx)."""

from __future__ import annotations

from backends.vsphere.inventory import Inventory
from backends.vsphere.patch import apply
from console.models import VM, VMState


def inventory() -> Inventory:
    vm = VM(id="uuid-1", name="web-01", state=VMState.RUNNING, host="esx-01", backend="vc",
            vcpus=2, memory_bytes=2**30, cpu_used_cores=0.5)
    return Inventory(vms=[vm], vm_moids={"uuid-1": "vm-7"})


def test_power_name_and_size_are_patched_into_a_new_inventory() -> None:
    before = inventory()
    after = apply(before, [("modify", "VirtualMachine", "vm-7",
                            [("runtime.powerState", "poweredOff"), ("name", "web-\x1b01"),
                             ("config.hardware.numCPU", 4), ("config.hardware.memoryMB", 4096)])])
    assert after is not None and after is not before
    vm = after.vms[0]
    assert (vm.state, vm.vcpus, vm.memory_bytes, vm.cpu_used_cores) == (VMState.STOPPED, 4, 4 * 2**30, None)
    assert "\x1b" not in vm.name
    assert before.vms[0].state is VMState.RUNNING  # the old inventory is untouched


def test_what_a_patch_cannot_rebuild_asks_for_a_full_retrieval() -> None:
    for update in [("enter", "VirtualMachine", "vm-8", [("name", "new")]),
                   ("leave", "VirtualMachine", "vm-7", []),
                   ("modify", "VirtualMachine", "vm-7", [("runtime.host", "host-2")]),
                   ("modify", "VirtualMachine", "vm-7", [("guest.ipAddress", "10.0.0.9")]),
                   ("modify", "HostSystem", "host-1", [("runtime.connectionState", "notResponding")]),
                   ("modify", "VirtualMachine", "vm-99", [("name", "unknown to us")])]:
        assert apply(inventory(), [update]) is None, update
