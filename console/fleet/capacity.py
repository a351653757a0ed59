"""Per-host capacity: what is allocated, what exists, what is used, and what is left.

Allocation counts VMs that hold resources now (running, paused, migrating); a stopped VM
holds none. Pure functions over a snapshot, shared by the hosts screen, the wall display and
migration target ranking.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from console.models import VM, FleetSnapshot, Host, VMState

HOLDS_RESOURCES = frozenset({VMState.RUNNING, VMState.PAUSED, VMState.MIGRATING,
                             VMState.SUSPENDED})


@dataclass(frozen=True, slots=True)
class HostCapacity:
    host: Host
    vm_count: int
    running: int
    vcpus_allocated: int
    memory_allocated: int

    @property
    def overcommit(self) -> float | None:
        """vCPUs allocated per physical CPU (1.0 = fully subscribed)."""
        return self.vcpus_allocated / self.host.cpus if self.host.cpus else None

    @property
    def memory_ratio(self) -> float | None:
        mem = self.host.memory_bytes
        return self.memory_allocated / mem if mem else None

    @property
    def memory_used(self) -> int | None:
        free = self.host.free_memory_bytes
        return None if free is None else max(0, self.host.memory_bytes - free)

    @property
    def memory_headroom(self) -> int:
        """Memory not yet promised to any VM (negative when overcommitted)."""
        return self.host.memory_bytes - self.memory_allocated

    @property
    def vcpu_headroom(self) -> int:
        """Physical CPUs not yet matched by an allocated vCPU (negative when overcommitted)."""
        return self.host.cpus - self.vcpus_allocated

    def fits(self, vm: VM, *, max_overcommit: float = 4.0) -> bool:
        """Would `vm` fit here without exceeding memory or the vCPU overcommit limit?"""
        return (vm.memory_bytes <= self.memory_headroom
                and self.vcpus_allocated + vm.vcpus <= self.host.cpus * max_overcommit)


def host_capacity(snapshot: FleetSnapshot) -> list[HostCapacity]:
    """One entry per host in the snapshot, in snapshot order."""
    per_host: dict[str, list[VM]] = defaultdict(list)
    for vm in snapshot.vms:
        per_host[vm.host].append(vm)
    result = []
    for host in snapshot.hosts:
        vms = per_host.get(host.name, [])
        holding = [vm for vm in vms if vm.state in HOLDS_RESOURCES]
        result.append(HostCapacity(
            host=host,
            vm_count=len(vms),
            running=sum(1 for vm in vms if vm.state is VMState.RUNNING),
            vcpus_allocated=sum(vm.vcpus for vm in holding),
            memory_allocated=sum(vm.memory_bytes for vm in holding),
        ))
    return result
