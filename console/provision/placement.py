"""The scheduler: which host a VM should go to, with one score and the reasons for it.

Used for a new VM (`console.provision.create`), for the target of a live migration and for
each guest of a drain (`console.migration.plan`), so all three rank hosts by the same rules:

- hard checks: the host is up, the VM's memory and vCPUs fit within the context's overcommit
  limits (memory also within what the host really has free, when it says), the architecture
  matches;
- anti-affinity: with `spread_by = "role"`, a host that already runs a VM with the same `role=`
  value ranks after every host that does not, so two of them share a host only when nothing
  else fits;
- among the rest, one score: the share of the host's allowed memory and of its allowed vCPUs
  left free after the move, averaged (0 to 100). Both count equally, so an empty host beats a
  host with as much free memory but its vCPUs nearly all taken.

Pure functions over `HostCapacity` (no I/O, no UI).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from console.config import Context
from console.fleet.capacity import HostCapacity, reports_capacity
from console.models import VM, Host, HostState


@dataclass(frozen=True, slots=True)
class Overcommit:
    """How far allocation may exceed the hardware: vCPUs per CPU, memory per byte of RAM."""

    cpu: float = 4.0
    memory: float = 1.0


DEFAULT_OVERCOMMIT = Overcommit()


@dataclass(frozen=True, slots=True)
class Rules:
    """A context's placement rules: its overcommit limits and its `spread_by` tag key."""

    limits: Overcommit = DEFAULT_OVERCOMMIT
    spread_by: str = ""

    @classmethod
    def of(cls, context: Context | None) -> Rules:
        if context is None:
            return cls()
        return cls(Overcommit(context.overcommit.cpu, context.overcommit.memory),
                   context.spread_by)


DEFAULT_RULES = Rules()


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Demand:
    """What is to be placed: a new VM's size, or a running VM that is to move."""

    vcpus: int
    memory_bytes: int
    arch: str = ""
    """Required host architecture (empty: any)."""
    cpu_model: str = ""
    """Required host CPU model (empty: any; a live migration asks for its source's)."""
    spread: str = ""
    """`key=value` of the context's `spread_by` tag for this VM (empty: no anti-affinity)."""


@dataclass(frozen=True, slots=True)
class Fit:
    """One candidate host: every check, what is left after placing, and the score."""

    host: Host
    checks: tuple[Check, ...]
    free_memory_after: int
    free_vcpus_after: int
    score: float
    """0 to 100: the mean share of allowed memory and allowed vCPUs still free afterwards."""
    memory_left: float = 0.0
    vcpus_left: float = 0.0
    same_spread: int = 0
    """VMs already on the host with the same `spread_by` value (anti-affinity)."""
    spread: str = ""

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.ok)

    def refusal(self) -> str:
        """One line naming every failed check (empty when all passed)."""
        return "; ".join(f"{c.name}: {c.detail}" for c in self.failed)

    def why(self) -> str:
        """The ranking in words: the score, what it is made of, and the spread rule."""
        if not self.ok:
            return self.refusal()
        text = (f"score {self.score:.0f}: {self.memory_left:.0%} of memory and "
                f"{self.vcpus_left:.0%} of vCPUs left after")
        if not reports_capacity(self.host):
            text = "capacity not reported (a cloud region or zone: the provider places it)"
        if self.spread:
            text += (f"; {self.same_spread} other {self.spread} here (ranked after hosts "
                     "with none)" if self.same_spread else f"; no other {self.spread} here")
        return text


def _mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def allowed_memory(cap: HostCapacity, limits: Overcommit) -> int:
    return int(cap.host.memory_bytes * limits.memory)


def allowed_vcpus(cap: HostCapacity, limits: Overcommit) -> int:
    return int(cap.host.cpus * limits.cpu)


def free_memory(cap: HostCapacity, limits: Overcommit = DEFAULT_OVERCOMMIT) -> int:
    """Memory a new guest can have: within the limit, and (when known) really free."""
    free = allowed_memory(cap, limits) - cap.memory_allocated
    if cap.host.free_memory_bytes is not None:
        free = min(free, cap.host.free_memory_bytes)
    return free


def free_vcpus(cap: HostCapacity, limits: Overcommit = DEFAULT_OVERCOMMIT) -> int:
    return allowed_vcpus(cap, limits) - cap.vcpus_allocated


def host_checks(demand: Demand, cap: HostCapacity, limits: Overcommit) -> list[Check]:
    """The host is up and the demand fits its memory and vCPUs within `limits`."""
    host = cap.host
    up = host.state is HostState.UP and not host.stale
    reachable = Check("target reachable", up, "up" if up else
                      f"{host.state.value}{': ' + host.error if host.error else ''}")
    if not reports_capacity(host):
        return [reachable, Check("capacity", True, "not reported by a cloud region or zone: "
                                 "the provider's quota decides")]
    mem_free, vcpu_free = free_memory(cap, limits), free_vcpus(cap, limits)
    return [
        reachable,
        Check("capacity: memory", demand.memory_bytes <= mem_free,
              f"needs {_mib(demand.memory_bytes)}, {_mib(max(mem_free, 0))} free"
              + (f" (≤ {limits.memory:g}x of {_mib(host.memory_bytes)})"
                 if limits.memory != 1 else "")),
        Check("capacity: vCPUs", demand.vcpus <= vcpu_free,
              f"needs {demand.vcpus}, {max(vcpu_free, 0)} free "
              f"(≤ {limits.cpu:g}x overcommit of {host.cpus} CPUs)"),
    ]


def arch_check(demand: Demand, host: Host) -> Check:
    same_arch = not (demand.arch and host.arch) or demand.arch == host.arch
    same_model = not (demand.cpu_model and host.cpu_model) or demand.cpu_model == host.cpu_model
    ok = same_arch and same_model
    detail = (f"{host.arch or '?'} {host.cpu_model or '?'}" if ok else
              f"needs {demand.arch or 'any'} {demand.cpu_model or ''}".rstrip()
              + f", host has {host.arch or '?'} {host.cpu_model or '?'}")
    return Check("same architecture/CPU model", ok, detail)


def _share(left: int, allowed: int) -> float:
    return max(0.0, min(1.0, left / allowed)) if allowed > 0 else 0.0


def fit(demand: Demand, cap: HostCapacity, limits: Overcommit = DEFAULT_OVERCOMMIT, *,
        before: Sequence[Check] = (), after: Sequence[Check] = (), same_spread: int = 0) -> Fit:
    """Score `cap.host` for `demand`; `before`/`after` are the caller's own checks (a
    migration's guest state, name clash…), listed around the shared ones."""
    checks = (*before, *host_checks(demand, cap, limits), arch_check(demand, cap.host), *after)
    mem_after = free_memory(cap, limits) - demand.memory_bytes
    vcpu_after = free_vcpus(cap, limits) - demand.vcpus
    mem_left = _share(mem_after, allowed_memory(cap, limits))
    vcpu_left = _share(vcpu_after, allowed_vcpus(cap, limits))
    return Fit(host=cap.host, checks=tuple(checks), free_memory_after=mem_after,
               free_vcpus_after=vcpu_after, score=100 * (mem_left + vcpu_left) / 2,
               memory_left=mem_left, vcpus_left=vcpu_left, same_spread=same_spread,
               spread=demand.spread)


def rank(fits: Iterable[Fit]) -> list[Fit]:
    """Passing hosts first; among them hosts without a VM of the same spread value first;
    then the highest score; the name breaks ties so the order is stable."""
    return sorted(fits, key=lambda f: (not f.ok, f.same_spread > 0, -f.score, f.host.name))


def spread_value(tags: Iterable[str], key: str) -> str:
    """`key=value` from a VM's tags for the context's `spread_by` key (empty: none)."""
    if not key:
        return ""
    return next((t for t in tags if t.partition("=")[0] == key and "=" in t), "")


def same_spread_on(host: str, spread: str, vms: Iterable[VM]) -> int:
    """How many VMs on `host` carry the tag `spread` (`key=value`)."""
    return 0 if not spread else sum(1 for vm in vms if vm.host == host and spread in vm.tags)


def place(demand: Demand, capacities: Iterable[HostCapacity], vms: Sequence[VM],
          limits: Overcommit = DEFAULT_OVERCOMMIT) -> list[Fit]:
    """Every host ranked for a new VM."""
    return rank(fit(demand, cap, limits, same_spread=same_spread_on(cap.host.name, demand.spread, vms))
                for cap in capacities)


def reserve(cap: HostCapacity, vcpus: int, memory_bytes: int) -> HostCapacity:
    """`cap` with a VM of this size placed on it (for placing several VMs one after another)."""
    free = cap.host.free_memory_bytes
    host = cap.host if free is None else dataclasses.replace(
        cap.host, free_memory_bytes=free - memory_bytes)
    return dataclasses.replace(cap, host=host, vm_count=cap.vm_count + 1,
                               running=cap.running + 1,
                               vcpus_allocated=cap.vcpus_allocated + vcpus,
                               memory_allocated=cap.memory_allocated + memory_bytes)
