"""From ARM's VM documents to the console's `VM` and `Host`: pure functions, no I/O.

A VM's "host" is where Azure placed it: its region, and its availability zone when it has one
(`eastus-1`). Power state comes from the instance view ARM returns with the list itself
(`statusOnly=true`), so a whole subscription is one call per page, not one per VM.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from console.models import VM, Disk, Host, HostState, VMState
from console.sanitize import clean, clean_all

POWER_STATES: dict[str, VMState] = {
    "running": VMState.RUNNING,
    "starting": VMState.PENDING,
    "stopping": VMState.PENDING,
    "deallocating": VMState.PENDING,
    "stopped": VMState.STOPPED,
    "deallocated": VMState.STOPPED,
    "unknown": VMState.UNKNOWN,
}
"""`PowerState/<x>` codes of an instance view. `stopped` (powered off, still billed for
compute) and `deallocated` (released, not billed) are both STOPPED; the `azure:power` tag
tells them apart."""

GIB = 1024**3
MIB = 1024**2


@dataclass(frozen=True, slots=True)
class SizeSpec:
    """What one VM size gives a VM (from the region's size list)."""

    vcpus: int
    memory_bytes: int


@dataclass(frozen=True, slots=True)
class ResourceId:
    """The parts of an ARM resource id that an action needs."""

    subscription: str
    resource_group: str
    name: str

    @classmethod
    def parse(cls, resource_id: str) -> ResourceId:
        """Split `/subscriptions/S/resourceGroups/G/providers/Microsoft.Compute/
        virtualMachines/N`; ValueError names what is wrong."""
        parts = [p for p in resource_id.split("/") if p]
        lowered = [p.lower() for p in parts]
        try:
            sub = parts[lowered.index("subscriptions") + 1]
            group = parts[lowered.index("resourcegroups") + 1]
            name = parts[lowered.index("virtualmachines") + 1]
        except (ValueError, IndexError):
            raise ValueError(f"{resource_id!r} is not an Azure VM resource id "
                             "(/subscriptions/…/resourceGroups/…/providers/Microsoft.Compute/"
                             "virtualMachines/…)") from None
        return cls(sub, group, name)


def text(value: Any) -> str:
    """An SDK enum or string as its plain value (`VirtualMachineSizeTypes.X` → `Standard_…`)."""
    if value is None:
        return ""
    return str(getattr(value, "value", value))


def power_code(statuses: Iterable[Any] | None) -> str:
    """The `x` of the `PowerState/x` status, or '' when the instance view has none."""
    for status in statuses or ():
        code = text(getattr(status, "code", "")) or ""
        if code.lower().startswith("powerstate/"):
            return code.split("/", 1)[1].lower()
    return ""


def hibernated(statuses: Iterable[Any] | None) -> bool:
    return any(text(getattr(s, "code", "")).lower() == "hibernationstate/hibernated"
               for s in statuses or ())


def vm_state(statuses: Iterable[Any] | None, provisioning: str = "") -> VMState:
    code = power_code(statuses)
    if code == "deallocated" and hibernated(statuses):
        return VMState.SUSPENDED
    if code:
        return POWER_STATES.get(code, VMState.UNKNOWN)
    if provisioning.lower() in ("creating", "updating", "deleting", "migrating"):
        return VMState.PENDING
    return VMState.UNKNOWN


def host_name(location: str, zones: Iterable[str] | None) -> str:
    zone = next(iter(zones or ()), "")
    return f"{location}-{zone}" if zone else location


def region_of(host: str) -> str:
    """The region of a host name made by `host_name` (`eastus2-1` → `eastus2`)."""
    head, sep, zone = host.rpartition("-")
    return head if sep and zone.isdigit() else host


def tags_of(tags: Mapping[str, str] | None, power: str) -> tuple[str, ...]:
    """ARM tags as `key=value`, plus `azure:power=<state>` (stopped vs deallocated)."""
    pairs = [f"{k}={v}" for k, v in sorted((tags or {}).items())]
    if power:
        pairs.append(f"azure:power={power}")
    return clean_all(pairs)


def disks_of(storage: Any) -> tuple[Disk, ...]:
    if storage is None:
        return ()
    found = []
    for disk in [storage.os_disk, *(storage.data_disks or [])]:
        if disk is None:
            continue
        managed = getattr(disk, "managed_disk", None)
        found.append(Disk(target=clean(disk.name or ""),
                          source=clean(getattr(managed, "id", "") or ""),
                          capacity_bytes=int(disk.disk_size_gb or 0) * GIB))
    return tuple(found)


def leftover_disks(storage: Any) -> list[str]:
    """Disks Azure keeps when the VM is deleted (deleteOption is not `Delete`)."""
    if storage is None:
        return []
    kept = []
    for disk in [storage.os_disk, *(storage.data_disks or [])]:
        if disk is not None and text(getattr(disk, "delete_option", "")).lower() != "delete":
            managed = getattr(disk, "managed_disk", None)
            kept.append(clean(getattr(managed, "id", "") or disk.name or ""))
    return kept


def vm_from_arm(vm: Any, *, backend: str, sizes: Mapping[str, SizeSpec]) -> VM:
    """One `azure.mgmt.compute.models.VirtualMachine` (with its instance view) as a `VM`."""
    props = vm.properties
    statuses = getattr(getattr(props, "instance_view", None), "statuses", None)
    size = text(getattr(getattr(props, "hardware_profile", None), "vm_size", None))
    spec = sizes.get(size.lower())
    created = getattr(props, "time_created", None)
    return VM(
        id=vm.id,
        name=clean(vm.name),
        state=vm_state(statuses, text(getattr(props, "provisioning_state", ""))),
        host=clean(host_name(vm.location, vm.zones)),
        backend=backend,
        vcpus=spec.vcpus if spec else 0,
        memory_bytes=spec.memory_bytes if spec else 0,
        disks=disks_of(getattr(props, "storage_profile", None)),
        tags=tags_of(vm.tags, power_code(statuses)) + ((f"azure:size={clean(size)}",) if size
                                                      else ()),
        created_at=created.timestamp() if created is not None else None,
    )


def size_from_arm(size: Any) -> tuple[str, SizeSpec]:
    return text(size.name).lower(), SizeSpec(int(size.number_of_cores or 0),
                                             int(size.memory_in_mb or 0) * MIB)


def hosts_of(vms: Iterable[VM], backend: str) -> list[Host]:
    """One host per region/zone that has VMs; a cloud region has no capacity to report."""
    names = sorted({vm.host for vm in vms})
    return [Host(id=f"{backend}/{name}", name=name, backend=backend, state=HostState.UP,
                 hypervisor="Azure", uri=f"azure://{name}") for name in names]
