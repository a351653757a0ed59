"""DescribeInstances records as console models (pure functions, no I/O).

EC2's six states map onto the console's: `pending` → pending, `running` → running,
`stopping` and `shutting-down` → pending (in transition), `stopped` → stopped, `terminated` →
stopped with an `ec2:state=terminated` tag, listed for `TERMINATED_SHOWN_S` after it ended
(AWS itself keeps terminated instances visible for about an hour) and then left out.
The region, the instance type and the EC2 state (when it is not plain running/stopped) ride
along as `ec2:` tags, so `region:eu-west-1`, `tag:ec2:type=m5` and `tag:ec2:state=stopping`
filter on them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from console.models import VM, Disk, Host, VMState
from console.sanitize import clean, clean_all

from .ids import InstanceRef, host_name

STATES: dict[str, VMState] = {
    "pending": VMState.PENDING,
    "running": VMState.RUNNING,
    "stopping": VMState.PENDING,
    "shutting-down": VMState.PENDING,
    "stopped": VMState.STOPPED,
    "terminated": VMState.STOPPED,
}
TERMINATED_SHOWN_S = 15 * 60.0
"""How long a terminated instance stays listed after it ended (then it fades out)."""
STANDARD_FAMILIES = frozenset("acdhimrtz")
"""Families the on-demand "Standard (A, C, D, H, I, M, R, T, Z)" vCPU quota counts."""
QUOTA_CODE = "L-1216C47A"
_ENDED_AT = re.compile(r"\((\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (?:UTC|GMT)\)")


@dataclass(frozen=True, slots=True)
class TypeSize:
    vcpus: int
    memory_bytes: int


def type_size(record: Mapping[str, Any]) -> TypeSize:
    """vCPUs and memory of one DescribeInstanceTypes record."""
    return TypeSize(int(record.get("VCpuInfo", {}).get("DefaultVCpus", 0)),
                    int(record.get("MemoryInfo", {}).get("SizeInMiB", 0)) * 2**20)


def ended_at(instance: Mapping[str, Any]) -> float | None:
    """When a terminated instance ended, from its StateTransitionReason, if it says."""
    found = _ENDED_AT.search(str(instance.get("StateTransitionReason", "")))
    if not found:
        return None
    return dt.datetime.strptime(found[1], "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC).timestamp()


def zone_of(instance: Mapping[str, Any]) -> str:
    """The instance's "host": its dedicated host when it has one, else its zone."""
    placement = instance.get("Placement", {})
    return clean(placement.get("HostId") or placement.get("AvailabilityZone") or "?")


def vcpus_of(instance: Mapping[str, Any], sizes: Mapping[str, TypeSize]) -> int:
    """The instance's own CPU options when it has them (cores x threads), else its type's."""
    cpu = instance.get("CpuOptions") or {}
    if cpu.get("CoreCount"):
        return int(cpu["CoreCount"]) * int(cpu.get("ThreadsPerCore", 1))
    size = sizes.get(instance.get("InstanceType", ""))
    return size.vcpus if size else 0


def vm_from_instance(instance: Mapping[str, Any], *, ref: InstanceRef, backend: str,
                     sizes: Mapping[str, TypeSize], several_profiles: bool) -> VM:
    """One DescribeInstances record as a VM (every string sanitized)."""
    raw_state = str(instance.get("State", {}).get("Name", ""))
    tags = {str(t.get("Key", "")): str(t.get("Value", "")) for t in instance.get("Tags", ())}
    name = tags.pop("Name", "") or ref.instance_id
    extra = [f"ec2:region={ref.region}", f"ec2:type={instance.get('InstanceType', '?')}"]
    if raw_state not in ("running", "stopped"):
        extra.append(f"ec2:state={raw_state}")
    if instance.get("InstanceLifecycle"):
        extra.append(f"ec2:lifecycle={instance['InstanceLifecycle']}")
    size = sizes.get(instance.get("InstanceType", ""))
    addresses = [instance.get("PrivateIpAddress"), instance.get("PublicIpAddress")]
    for nic in instance.get("NetworkInterfaces", ()):
        addresses += [a.get("Ipv6Address") for a in nic.get("Ipv6Addresses", ())]
    disks = tuple(Disk(target=clean(m.get("DeviceName", "")),
                       source=clean(m.get("Ebs", {}).get("VolumeId", "")))
                  for m in instance.get("BlockDeviceMappings", ()))
    launched = instance.get("LaunchTime")
    return VM(
        id=str(ref), name=clean(name), state=STATES.get(raw_state, VMState.UNKNOWN),
        host=host_name(ref.profile, zone_of(instance), several_profiles=several_profiles),
        backend=backend, vcpus=vcpus_of(instance, sizes),
        memory_bytes=size.memory_bytes if size else 0, disks=disks,
        addresses=clean_all(a for a in dict.fromkeys(addresses) if a),
        tags=clean_all([f"{k}={v}" for k, v in sorted(tags.items())] + extra),
        created_at=launched.timestamp() if isinstance(launched, dt.datetime) else None,
    )


class Fading:
    """Decides which terminated instances are still shown, remembering when each was first
    seen terminated when its StateTransitionReason does not say when it ended."""

    def __init__(self, shown_s: float = TERMINATED_SHOWN_S) -> None:
        self.shown_s = shown_s
        self._first_seen: dict[str, float] = {}

    def keep(self, instance: Mapping[str, Any], now: float) -> bool:
        if instance.get("State", {}).get("Name") != "terminated":
            return True
        iid = str(instance.get("InstanceId", ""))
        ended = ended_at(instance) or self._first_seen.setdefault(iid, now)
        return now - ended <= self.shown_s

    def forget_except(self, seen: Iterable[str]) -> None:
        keep = set(seen)
        self._first_seen = {k: v for k, v in self._first_seen.items() if k in keep}


def counts_for_quota(instance: Mapping[str, Any]) -> bool:
    """A running on-demand instance of a standard family (what L-1216C47A limits)."""
    family = str(instance.get("InstanceType", " "))[:1].lower()
    return (instance.get("State", {}).get("Name") == "running"
            and not instance.get("InstanceLifecycle") and family in STANDARD_FAMILIES)


def hosts_from(vms: Iterable[VM], *, backend: str,
               regions: Mapping[str, str] | None = None) -> list[Host]:
    """One Host per zone (or dedicated host) that has instances, and per zone of `regions`
    (host name → its region) even without any. A zone has no capacity of its own (the vCPU
    quota is per region: `RegionCapacity`), so its CPUs are unknown (0)."""
    regions = regions or {}
    names = sorted({vm.host for vm in vms} | set(regions))
    return [Host(id=f"{backend}/{name}", name=name, backend=backend, hypervisor="EC2",
                 uri=name, datacenter=regions.get(name, "")) for name in names]
