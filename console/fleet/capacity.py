"""Per-host capacity: what is allocated, what exists, what is used, and what is left.

Allocation counts VMs that hold resources now (running, paused, migrating); a stopped VM
holds none. Pure functions over a snapshot, shared by the hosts screen, the wall display and
migration target ranking.
"""

from __future__ import annotations

from collections.abc import Generator
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
    steps = host_capacity_steps(snapshot)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]


def host_capacity_steps(snapshot: FleetSnapshot, step: int = 5000
                        ) -> Generator[None, None, list[HostCapacity]]:
    """`host_capacity`, yielding after every `step` VMs (its return value, with `yield
    from`): at 100k VMs a caller on the event loop serves keys between steps."""
    totals: dict[str, list[int]] = {}  # host name: VMs, running, vCPUs and memory held
    for n, vm in enumerate(snapshot.vms, 1):
        total = totals.get(vm.host)
        if total is None:
            total = totals[vm.host] = [0, 0, 0, 0]
        total[0] += 1
        if vm.state is VMState.RUNNING:
            total[1] += 1
        if vm.state in HOLDS_RESOURCES:
            total[2] += vm.vcpus
            total[3] += vm.memory_bytes
        if n % step == 0:
            yield
    none = [0, 0, 0, 0]
    result = []
    for host in snapshot.hosts:
        count, running, vcpus, memory = totals.get(host.name, none)
        result.append(HostCapacity(host=host, vm_count=count, running=running,
                                   vcpus_allocated=vcpus, memory_allocated=memory))
    return result


def reports_capacity(host: Host) -> bool:
    """False for a cloud region or zone (EC2, Azure): it lists no CPUs or memory of its own;
    the provider's quota, not the host's hardware, says whether a VM fits there."""
    return host.cpus > 0 or host.memory_bytes > 0
