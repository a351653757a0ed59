"""The scheduler's ranking, case by case: capacity, overcommit, anti-affinity, architecture,
down hosts, and the score that makes memory and vCPU headroom count alike."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from console.fleet.capacity import host_capacity
from console.models import VM, FleetSnapshot, Host, HostState, VMState
from console.provision.placement import (
    DEFAULT_OVERCOMMIT,
    Demand,
    Overcommit,
    place,
    reserve,
    spread_value,
)

GIB = 2**30


def host(name: str, mem: int = 16, cpus: int = 4, arch: str = "x86_64",
         state: HostState = HostState.UP, free: int | None = None) -> Host:
    return Host(id=name, name=name, backend=name, state=state, arch=arch, cpus=cpus,
                memory_bytes=mem * GIB, free_memory_bytes=None if free is None else free * GIB)


def vm(name: str, on: str, mem: int = 2, vcpus: int = 1, tags: tuple[str, ...] = (),
       state: VMState = VMState.RUNNING) -> VM:
    return VM(id=name, name=name, state=state, host=on, backend=on, vcpus=vcpus,
              memory_bytes=mem * GIB, tags=tags)


@dataclass(frozen=True)
class Case:
    hosts: list[Host]
    vms: list[VM]
    demand: Demand
    ranking: list[str]
    """Host names best first."""
    refused: dict[str, str] = field(default_factory=dict)
    """Host -> a check name that must fail there (everything not listed passes)."""
    limits: Overcommit = DEFAULT_OVERCOMMIT


CASES = {
    "most headroom wins": Case(
        [host("a"), host("b", mem=32)], [vm("x", "a", 4, 2)], Demand(1, 1 * GIB), ["b", "a"]),
    "vCPU headroom counts as much as memory": Case(
        # Same free memory after; "busy" has its vCPUs nearly all taken.
        [host("busy", mem=8, cpus=2), host("empty", mem=8, cpus=2)],
        [vm(f"g{i}", "busy", 0, 1) for i in range(7)], Demand(1, 2 * GIB), ["empty", "busy"]),
    "memory that does not fit": Case(
        [host("small", mem=2), host("big")], [], Demand(1, 4 * GIB), ["big", "small"],
        refused={"small": "capacity: memory"}),
    "real free memory lower than headroom": Case(
        [host("tight", mem=64, free=1), host("roomy", mem=8)], [], Demand(1, 2 * GIB),
        ["roomy", "tight"], refused={"tight": "capacity: memory"}),
    "vCPUs beyond the overcommit limit": Case(
        [host("a", cpus=2), host("b", cpus=2)], [vm("x", "a", 1, 7)], Demand(2, GIB), ["b", "a"],
        refused={"a": "capacity: vCPUs"}),
    "a higher cpu overcommit lets it fit": Case(
        [host("a", cpus=2), host("b", cpus=1)], [vm("x", "a", 1, 7)], Demand(2, GIB), ["b", "a"],
        limits=Overcommit(cpu=8.0)),  # a passes now (16 allowed), b has more left
    "memory overcommit": Case(
        [host("a", mem=4)], [vm("x", "a", 3)], Demand(1, 2 * GIB), ["a"],
        limits=Overcommit(memory=1.5)),
    "no memory overcommit by default": Case(
        [host("a", mem=4)], [vm("x", "a", 3)], Demand(1, 2 * GIB), ["a"],
        refused={"a": "capacity: memory"}),
    "a stopped VM holds nothing": Case(
        [host("a", mem=4)], [vm("x", "a", 3, state=VMState.STOPPED)], Demand(1, 2 * GIB), ["a"]),
    "architecture": Case(
        [host("arm", arch="aarch64", mem=64), host("x86")], [], Demand(1, GIB, arch="x86_64"),
        ["x86", "arm"], refused={"arm": "same architecture/CPU model"}),
    "down and stale hosts": Case(
        [host("down", mem=64, state=HostState.DOWN),
         Host(id="s", name="stale", backend="s", cpus=8, memory_bytes=64 * GIB, stale=True),
         host("up")], [], Demand(1, GIB), ["up", "stale", "down"],
        refused={"down": "target reachable", "stale": "target reachable"}),
    "anti-affinity: a host with the same role ranks after one without": Case(
        [host("a", mem=64, cpus=16), host("b")], [vm("pg1", "a", tags=("role=pg",))],
        Demand(1, GIB, spread="role=pg"), ["b", "a"]),
    "anti-affinity ignores other roles": Case(
        [host("a", mem=64, cpus=16), host("b")], [vm("web", "a", tags=("role=web",))],
        Demand(1, GIB, spread="role=pg"), ["a", "b"]),
    "cloud zones report no capacity: they pass, the provider's quota decides": Case(
        [Host(id="z1", name="eu-west-1a", backend="aws", state=HostState.UP),
         Host(id="z2", name="eu-west-1b", backend="aws", state=HostState.UP),
         Host(id="z3", name="eu-west-1c", backend="aws", state=HostState.DOWN)],
        [vm("i-1", "eu-west-1a", 64, 32)], Demand(8, 32 * GIB),
        ["eu-west-1a", "eu-west-1b", "eu-west-1c"], refused={"eu-west-1c": "target reachable"}),
    "anti-affinity gives way when nothing else fits": Case(
        [host("a"), host("b", mem=1)], [vm("pg1", "a", tags=("role=pg",))],
        Demand(1, 2 * GIB, spread="role=pg"), ["a", "b"], refused={"b": "capacity: memory"}),
    "a cloud zone (no capacity reported) is a candidate, ranked after measured room": Case(
        [host("eu-west-1a", mem=0, cpus=0), host("kvm")], [vm("x", "eu-west-1a", 4, 2)],
        Demand(2, 8 * GIB), ["kvm", "eu-west-1a"]),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_ranking(case: Case) -> None:
    snapshot = FleetSnapshot(context="t", taken_at=0, hosts=tuple(case.hosts), vms=tuple(case.vms))
    ranked = place(case.demand, host_capacity(snapshot), snapshot.vms, case.limits)
    assert [f.host.name for f in ranked] == case.ranking
    for f in ranked:
        failed = [c.name for c in f.failed]
        if f.host.name in case.refused:
            assert case.refused[f.host.name] in failed, f.refusal()
            assert case.refused[f.host.name] in f.why()
        else:
            assert failed == [], f.refusal()
            cloud = not f.host.cpus and not f.host.memory_bytes
            assert f.why().startswith("capacity not reported (a cloud" if cloud
                                      else f"score {f.score:.0f}:")


def test_score_explained() -> None:
    s = FleetSnapshot(context="t", taken_at=0, hosts=(host("a", mem=8, cpus=2),),
                      vms=(vm("pg1", "a", 2, 2, tags=("role=pg",)),))
    (only,) = place(Demand(2, 2 * GIB, spread="role=pg"), host_capacity(s), s.vms)
    # 4 of 8 GiB (50 %) and 4 of 8 vCPUs (50 %) left: score 50.
    assert (only.score, only.free_memory_after, only.free_vcpus_after) == (50, 4 * GIB, 4)
    assert only.why() == ("score 50: 50% of memory and 50% of vCPUs left after; 1 other role=pg "
                          "here (ranked after hosts with none)")


def test_reserving_capacity_changes_the_next_placement() -> None:
    s = FleetSnapshot(context="t", taken_at=0, hosts=(host("a"), host("b")), vms=())
    caps = {c.host.name: c for c in host_capacity(s)}
    first = place(Demand(2, 4 * GIB), caps.values(), ())[0].host.name
    caps[first] = reserve(caps[first], 2, 4 * GIB)
    second = place(Demand(2, 4 * GIB), caps.values(), ())[0].host.name
    assert {first, second} == {"a", "b"}


@pytest.mark.parametrize(("tags", "key", "value"), [
    (("env=lab", "role=pg"), "role", "role=pg"),
    (("env=lab",), "role", ""),
    (("role",), "role", ""),
    (("role=pg",), "", ""),
])
def test_spread_value(tags: tuple[str, ...], key: str, value: str) -> None:
    assert spread_value(tags, key) == value
