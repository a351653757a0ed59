"""Before a migration: pre-flight checks, target ranking, and the drain plan of a host.

Pure functions over a `FleetSnapshot` (plus the set of VMs already migrating), shared by the
migrate dialog, the drain dialog, the CLI and the tracker, so all of them refuse for the same
reasons with the same words.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from console.fleet.capacity import HostCapacity, host_capacity
from console.models import VM, FleetSnapshot, Host, HostState, VMState

MIGRATABLE = frozenset({VMState.RUNNING, VMState.PAUSED})
MAX_VCPU_OVERCOMMIT = 4.0


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class TargetChoice:
    """One candidate target host for one VM, with the checks and what is left after the move."""

    host: Host
    checks: tuple[Check, ...]
    free_memory_after: int
    free_vcpus_after: int

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.ok)

    def refusal(self) -> str:
        """One line naming every failed check (empty when all passed)."""
        return "; ".join(f"{c.name}: {c.detail}" for c in self.failed)


def _mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def free_memory(cap: HostCapacity) -> int:
    """Memory a new guest can have: not promised to guests, and (when known) really free."""
    free = cap.memory_headroom
    if cap.host.free_memory_bytes is not None:
        free = min(free, cap.host.free_memory_bytes)
    return free


def free_vcpus(cap: HostCapacity) -> int:
    return int(cap.host.cpus * MAX_VCPU_OVERCOMMIT) - cap.vcpus_allocated


def checks_for(vm: VM, cap: HostCapacity, names_on_target: Collection[str],
               source: Host | None = None, busy: Collection[str] = ()) -> tuple[Check, ...]:
    """Every pre-flight check of moving `vm` onto `cap.host`, passed or not."""
    host = cap.host
    checks = [
        Check("guest state", vm.state in MIGRATABLE,
              f"{vm.state.value}" + ("" if vm.state in MIGRATABLE
                                     else ": only a running or paused guest can be live-migrated")),
        Check("not already migrating", vm.key not in busy and vm.state is not VMState.MIGRATING,
              "free" if vm.key not in busy and vm.state is not VMState.MIGRATING
              else "a migration of this VM is already running"),
        Check("different host", host.name != vm.host,
              "ok" if host.name != vm.host else "the VM already runs there"),
        Check("target reachable", host.state is HostState.UP and not host.stale,
              "up" if host.state is HostState.UP and not host.stale
              else f"{host.state.value}{': ' + host.error if host.error else ''}"),
    ]
    mem_free = free_memory(cap)
    checks.append(Check("capacity: memory", vm.memory_bytes <= mem_free,
                        f"needs {_mib(vm.memory_bytes)}, {_mib(max(mem_free, 0))} free"))
    vcpu_free = free_vcpus(cap)
    checks.append(Check("capacity: vCPUs", vm.vcpus <= vcpu_free,
                        f"needs {vm.vcpus}, {max(vcpu_free, 0)} free "
                        f"(≤ {MAX_VCPU_OVERCOMMIT:g}x overcommit of {host.cpus} CPUs)"))
    if source is not None:
        same_arch = not (source.arch and host.arch) or source.arch == host.arch
        same_model = not (source.cpu_model and host.cpu_model) or source.cpu_model == host.cpu_model
        detail = (f"{host.arch or '?'} {host.cpu_model or '?'}" if same_arch and same_model else
                  f"source {source.arch} {source.cpu_model}, target {host.arch} {host.cpu_model}")
        checks.append(Check("same architecture/CPU model", same_arch and same_model, detail))
    clash = vm.name in names_on_target and (
        not isinstance(names_on_target, Mapping) or names_on_target[vm.name] != vm.id)
    checks.append(Check("no name clash on target", not clash,
                        f"a VM named {vm.name!r} already exists there" if clash else "ok"))
    return tuple(checks)


def _index(snapshot: FleetSnapshot) -> tuple[dict[str, HostCapacity], dict[str, dict[str, str]]]:
    """Capacity per host, and per host the VM names there (name -> id: same id is no clash)."""
    caps = {c.host.name: c for c in host_capacity(snapshot)}
    names: dict[str, dict[str, str]] = {}
    for other in snapshot.vms:
        names.setdefault(other.host, {})[other.name] = other.id
    return caps, names


def choice_for(vm: VM, cap: HostCapacity, names_on_target: Collection[str],
               source: Host | None, busy: Collection[str] = ()) -> TargetChoice:
    return TargetChoice(
        host=cap.host, checks=checks_for(vm, cap, names_on_target, source, busy),
        free_memory_after=free_memory(cap) - vm.memory_bytes,
        free_vcpus_after=free_vcpus(cap) - vm.vcpus)


def rank_targets(vm: VM, snapshot: FleetSnapshot, busy: Collection[str] = ()) -> list[TargetChoice]:
    """Every other host as a target: passing ones first, most free memory then vCPUs after."""
    caps, names = _index(snapshot)
    source = caps[vm.host].host if vm.host in caps else None
    choices = [choice_for(vm, cap, names.get(name, {}), source, busy)
               for name, cap in caps.items() if name != vm.host]
    choices.sort(key=lambda c: (not c.ok, -c.free_memory_after, -c.free_vcpus_after, c.host.name))
    return choices


def preflight(vm: VM, target: str, snapshot: FleetSnapshot,
              busy: Collection[str] = ()) -> TargetChoice | None:
    """The checks of moving `vm` to the host named `target`; None when no such host."""
    caps, names = _index(snapshot)
    if target not in caps:
        return None
    source = caps[vm.host].host if vm.host in caps else None
    return choice_for(vm, caps[target], names.get(target, {}), source, busy)


@dataclass(frozen=True, slots=True)
class DrainPlan:
    host: str
    moves: tuple[tuple[VM, str], ...]
    """(VM, target host name) in the order they should start."""
    unplaced: tuple[tuple[VM, str], ...]
    """(VM, why no target fits)."""
    skipped: tuple[VM, ...]
    """VMs on the host that are not running/paused (nothing to live-migrate)."""


def plan_drain(host: str, snapshot: FleetSnapshot, busy: Collection[str] = ()) -> DrainPlan:
    """Give every running VM of `host` a target, biggest first, reserving capacity as it goes."""
    caps, names = _index(snapshot)
    on_host = [vm for vm in snapshot.vms if vm.host == host]
    movable = sorted((vm for vm in on_host if vm.state in MIGRATABLE),
                     key=lambda vm: (-vm.memory_bytes, -vm.vcpus, vm.name))
    skipped = tuple(vm for vm in on_host if vm.state not in MIGRATABLE)
    source = caps[host].host if host in caps else None
    moves: list[tuple[VM, str]] = []
    unplaced: list[tuple[VM, str]] = []
    for vm in movable:
        choices = [choice_for(vm, cap, names.get(name, {}), source, busy)
                   for name, cap in caps.items() if name != host]
        choices.sort(key=lambda c: (not c.ok, -c.free_memory_after, -c.free_vcpus_after,
                                    c.host.name))
        if not choices or not choices[0].ok:
            why = choices[0].refusal() if choices else "no other host"
            unplaced.append((vm, why))
            continue
        target = choices[0].host.name
        moves.append((vm, target))
        cap = caps[target]
        free = cap.host.free_memory_bytes
        caps[target] = dataclasses.replace(
            cap, vm_count=cap.vm_count + 1, vcpus_allocated=cap.vcpus_allocated + vm.vcpus,
            memory_allocated=cap.memory_allocated + vm.memory_bytes,
            host=cap.host if free is None else dataclasses.replace(
                cap.host, free_memory_bytes=free - vm.memory_bytes))
        names.setdefault(target, {})[vm.name] = vm.id
    return DrainPlan(host=host, moves=tuple(moves), unplaced=tuple(unplaced), skipped=skipped)
