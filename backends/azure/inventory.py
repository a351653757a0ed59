"""From ARM's VM documents (plain JSON) to the console's `VM` and `Host`: pure functions.

A VM's "host" is where Azure placed it: its region, and its availability zone when it has one
(`eastus-1`). Power state comes from the instance view ARM returns with the list itself
(`statusOnly=true`), so a whole subscription is one call per page, not one per VM.

The listing is read as JSON, not as the SDK's models: building a model costs 0.7 to 2 ms per VM
document on this machine (`make bench ARGS=azure`), 10 s of event loop per 10,000 VMs.
"""

from __future__ import annotations

import datetime as dt
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
    name: str = ""
    """As Azure spells it (`Standard_D2_v2`); the size lists are keyed in lower case."""


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


Json = Mapping[str, Any]


def text(value: Any) -> str:
    """An SDK enum or string as its plain value (`VirtualMachineSizeTypes.X` → `Standard_…`)."""
    if value is None:
        return ""
    return str(getattr(value, "value", value))


def power_code(statuses: Iterable[Json] | None) -> str:
    """The `x` of the `PowerState/x` status, or '' when the instance view has none."""
    for status in statuses or ():
        code = str(status.get("code") or "")
        if code.lower().startswith("powerstate/"):
            return code.split("/", 1)[1].lower()
    return ""


def hibernated(statuses: Iterable[Json] | None) -> bool:
    return any(str(s.get("code") or "").lower() == "hibernationstate/hibernated"
               for s in statuses or ())


def vm_state(statuses: Iterable[Json] | None, provisioning: str = "") -> VMState:
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


def _disks(storage: Json | None) -> list[Json]:
    if not storage:
        return []
    return [d for d in [storage.get("osDisk"), *(storage.get("dataDisks") or [])] if d]


def disks_of(storage: Json | None) -> tuple[Disk, ...]:
    return tuple(Disk(target=clean(disk.get("name") or ""),
                      source=clean((disk.get("managedDisk") or {}).get("id") or ""),
                      capacity_bytes=int(disk.get("diskSizeGB") or 0) * GIB)
                 for disk in _disks(storage))


def leftover_disks(storage: Json | None) -> list[str]:
    """Disks Azure keeps when the VM is deleted (deleteOption is not `Delete`)."""
    return [clean((disk.get("managedDisk") or {}).get("id") or disk.get("name") or "")
            for disk in _disks(storage)
            if str(disk.get("deleteOption") or "").lower() != "delete"]


def created_at(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def vm_from_arm(doc: Json, *, backend: str, sizes: Mapping[str, SizeSpec],
                addresses: tuple[str, ...] = ()) -> VM:
    """One VM document of an ARM listing (with its instance view) as a `VM`; its IPs come
    from the interface and public IP listings (`addresses.py`)."""
    props = doc.get("properties") or {}
    statuses = (props.get("instanceView") or {}).get("statuses")
    size = str((props.get("hardwareProfile") or {}).get("vmSize") or "")
    spec = sizes.get(size.lower())
    return VM(
        id=str(doc["id"]),
        name=clean(doc.get("name")),
        state=vm_state(statuses, str(props.get("provisioningState") or "")),
        host=clean(host_name(str(doc.get("location") or ""), doc.get("zones"))),
        backend=backend,
        vcpus=spec.vcpus if spec else 0,
        memory_bytes=spec.memory_bytes if spec else 0,
        disks=disks_of(props.get("storageProfile")),
        addresses=addresses,
        tags=tags_of(doc.get("tags"), power_code(statuses)) + ((f"azure:size={clean(size)}",)
                                                             if size else ()),
        created_at=created_at(props.get("timeCreated")),
    )


def size_from_arm(size: Any) -> tuple[str, SizeSpec]:
    name = text(size.name)
    return name.lower(), SizeSpec(int(size.number_of_cores or 0),
                                  int(size.memory_in_mb or 0) * MIB, name)


def hosts_of(vms: Iterable[VM], backend: str) -> list[Host]:
    """One host per region/zone that has VMs; a cloud region has no capacity to report."""
    names = sorted({vm.host for vm in vms})
    return [Host(id=f"{backend}/{name}", name=name, backend=backend, state=HostState.UP,
                 hypervisor="Azure", uri=f"azure://{name}") for name in names]
