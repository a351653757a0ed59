"""Before a migration: pre-flight checks, target ranking, and the drain plan of a host.

Pure functions over a `FleetSnapshot` (plus the set of VMs already migrating), shared by the
migrate dialog, the drain dialog, the CLI and the tracker, so all of them refuse for the same
reasons with the same words. Capacity, architecture, anti-affinity and the ranking itself are
the scheduler's (`console.provision.placement`): a new VM and a moving one are placed alike.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from console.fleet.capacity import HostCapacity, host_capacity
from console.models import VM, FleetSnapshot, Host, VMState
from console.provision import placement
from console.provision.placement import DEFAULT_OVERCOMMIT, Check, Demand, Fit, Overcommit

MIGRATABLE = frozenset({VMState.RUNNING, VMState.PAUSED})
MAX_VCPU_OVERCOMMIT = DEFAULT_OVERCOMMIT.cpu

TargetChoice = Fit
"""One candidate target host for one VM: the checks, what is left after the move, the score."""


def _own_checks(vm: VM, host: Host, busy: Collection[str]) -> list[Check]:
    free = vm.key not in busy and vm.state is not VMState.MIGRATING
    return [
        Check("guest state", vm.state in MIGRATABLE,
              f"{vm.state.value}" + ("" if vm.state in MIGRATABLE
                                     else ": only a running or paused guest can be live-migrated")),
        Check("not already migrating", free,
              "free" if free else "a migration of this VM is already running"),
        Check("different host", host.name != vm.host,
              "ok" if host.name != vm.host else "the VM already runs there"),
    ]


def _name_check(vm: VM, names_on_target: Collection[str]) -> Check:
    clash = vm.name in names_on_target and (
        not isinstance(names_on_target, Mapping) or names_on_target[vm.name] != vm.id)
    return Check("no name clash on target", not clash,
                 f"a VM named {vm.name!r} already exists there" if clash else "ok")


def _index(snapshot: FleetSnapshot) -> tuple[dict[str, HostCapacity], dict[str, dict[str, str]]]:
    """Capacity per host, and per host the VM names there (name -> id: same id is no clash)."""
    caps = {c.host.name: c for c in host_capacity(snapshot)}
    names: dict[str, dict[str, str]] = {}
    for other in snapshot.vms:
        names.setdefault(other.host, {})[other.name] = other.id
    return caps, names


def choice_for(vm: VM, cap: HostCapacity, names_on_target: Collection[str],
               source: Host | None, busy: Collection[str] = (), *,
               limits: Overcommit = DEFAULT_OVERCOMMIT, spread_by: str = "",
               vms: Sequence[VM] = ()) -> TargetChoice:
    """The scheduler's fit of `cap.host` for `vm` (`console.provision.placement`), with the
    migration's own checks around the shared ones."""
    demand = Demand(vm.vcpus, vm.memory_bytes,
                    arch=source.arch if source is not None else "",
                    cpu_model=source.cpu_model if source is not None else "",
                    spread=placement.spread_value(vm.tags, spread_by))
    same = sum(1 for other in vms if other.host == cap.host.name and other.key != vm.key
               and demand.spread and demand.spread in other.tags)
    own = _own_checks(vm, cap.host, busy)
    if source is not None and source.cannot_migrate:  # e.g. the demo's simulated hosts
        own.append(Check("source can live-migrate", False, source.cannot_migrate))
    return placement.fit(demand, cap, limits, before=own,
                         after=[_name_check(vm, names_on_target)], same_spread=same)


def rank_targets(vm: VM, snapshot: FleetSnapshot, busy: Collection[str] = (), *,
                 limits: Overcommit = DEFAULT_OVERCOMMIT, spread_by: str = "") -> list[TargetChoice]:
    """Every other host as a target, ranked by the scheduler (passing ones first, then
    anti-affinity, then the score: memory and vCPU headroom after the move)."""
    caps, names = _index(snapshot)
    source = caps[vm.host].host if vm.host in caps else None
    return placement.rank(
        choice_for(vm, cap, names.get(name, {}), source, busy, limits=limits,
                   spread_by=spread_by, vms=snapshot.vms)
        for name, cap in caps.items() if name != vm.host)


def preflight(vm: VM, target: str, snapshot: FleetSnapshot, busy: Collection[str] = (), *,
              limits: Overcommit = DEFAULT_OVERCOMMIT) -> TargetChoice | None:
    """The checks of moving `vm` to the host named `target`; None when no such host."""
    caps, names = _index(snapshot)
    if target not in caps:
        return None
    source = caps[vm.host].host if vm.host in caps else None
    return choice_for(vm, caps[target], names.get(target, {}), source, busy, limits=limits)


@dataclass(frozen=True, slots=True)
class DrainPlan:
    host: str
    moves: tuple[tuple[VM, str], ...]
    """(VM, target host name) in the order they should start."""
    unplaced: tuple[tuple[VM, str], ...]
    """(VM, why no target fits)."""
    skipped: tuple[VM, ...]
    """VMs on the host that are not running/paused (nothing to live-migrate)."""


def plan_drain(host: str, snapshot: FleetSnapshot, busy: Collection[str] = (), *,
               limits: Overcommit = DEFAULT_OVERCOMMIT, spread_by: str = "") -> DrainPlan:
    """Give every running VM of `host` a target, biggest first, reserving capacity as it goes."""
    caps, names = _index(snapshot)
    on_host = [vm for vm in snapshot.vms if vm.host == host]
    movable = sorted((vm for vm in on_host if vm.state in MIGRATABLE),
                     key=lambda vm: (-vm.memory_bytes, -vm.vcpus, vm.name))
    skipped = tuple(vm for vm in on_host if vm.state not in MIGRATABLE)
    source = caps[host].host if host in caps else None
    moves: list[tuple[VM, str]] = []
    unplaced: list[tuple[VM, str]] = []
    placed: list[VM] = [vm for vm in snapshot.vms if vm.host != host]
    for vm in movable:
        choices = placement.rank(
            choice_for(vm, cap, names.get(name, {}), source, busy, limits=limits,
                       spread_by=spread_by, vms=placed)
            for name, cap in caps.items() if name != host)
        if not choices or not choices[0].ok:
            why = choices[0].refusal() if choices else "no other host"
            unplaced.append((vm, why))
            continue
        target = choices[0].host.name
        moves.append((vm, target))
        caps[target] = placement.reserve(caps[target], vm.vcpus, vm.memory_bytes)
        names.setdefault(target, {})[vm.name] = vm.id
        placed.append(dataclasses.replace(vm, host=target))
    return DrainPlan(host=host, moves=tuple(moves), unplaced=tuple(unplaced), skipped=skipped)
