"""Pre-flight checks, target ranking and drain planning (pure, over a snapshot)."""

from __future__ import annotations

import dataclasses

from console.migration.plan import plan_drain, preflight, rank_targets
from console.models import VM, FleetSnapshot, Host, HostState, VMState

GIB = 2**30


def host(name: str, mem_gib: int = 16, cpus: int = 4, free_gib: int | None = None,
         arch: str = "x86_64", model: str = "Skylake", state: HostState = HostState.UP) -> Host:
    return Host(id=name, name=name, backend=name, state=state, arch=arch, cpu_model=model,
                cpus=cpus, memory_bytes=mem_gib * GIB,
                free_memory_bytes=None if free_gib is None else free_gib * GIB)


def vm(name: str, on: str, mem_gib: int = 2, vcpus: int = 2,
       state: VMState = VMState.RUNNING) -> VM:
    return VM(id=f"id-{name}", name=name, state=state, host=on, backend=on, vcpus=vcpus,
              memory_bytes=mem_gib * GIB)


def snap(hosts: list[Host], vms: list[VM]) -> FleetSnapshot:
    return FleetSnapshot(context="t", taken_at=0, hosts=tuple(hosts), vms=tuple(vms))


def test_targets_ranked_by_the_schedulers_score_memory_and_vcpus_alike() -> None:
    # d: 30 of 32 GiB but 6 of 8 vCPUs left; c: 29 of 32 GiB and 13 of 16 vCPUs: c wins.
    s = snap([host("a"), host("b", mem_gib=8), host("c", mem_gib=32), host("d", mem_gib=32, cpus=2)],
             [vm("web", "a"), vm("x", "c", mem_gib=1, vcpus=1)])
    ranked = rank_targets(s.vms[0], s)
    assert [c.host.name for c in ranked] == ["c", "d", "b"]
    assert ranked[0].free_memory_after == 29 * GIB
    assert ranked[1].free_memory_after == 30 * GIB


def test_an_empty_host_beats_one_with_as_much_memory_but_few_vcpus_left() -> None:
    # The lab after a drain: labhost3 ran six guests (vCPUs nearly all taken), labhost1 none.
    busy = [vm(f"g{i}", "labhost3", mem_gib=1, vcpus=1) for i in range(6)]
    s = snap([host("labhost1", mem_gib=8, cpus=2), host("labhost2", mem_gib=16, cpus=2),
              host("labhost3", mem_gib=14, cpus=2)],
             [*busy, vm("web", "labhost2", mem_gib=2, vcpus=1)])
    ranked = rank_targets(s.vms[-1], s)
    assert [(c.host.name, c.free_memory_after // GIB, c.free_vcpus_after) for c in ranked] == [
        ("labhost1", 6, 7), ("labhost3", 6, 1)]
    assert "vCPUs left after" in ranked[0].why()


def test_failing_targets_sort_last_and_say_why() -> None:
    s = snap([host("a"), host("big"), host("tiny", mem_gib=1)], [vm("db", "a", mem_gib=4)])
    ranked = rank_targets(s.vms[0], s)
    assert ranked[-1].host.name == "tiny" and not ranked[-1].ok
    assert "capacity: memory" in ranked[-1].refusal()


def test_real_free_memory_counts_when_lower_than_headroom() -> None:
    s = snap([host("a"), host("b", free_gib=1)], [vm("db", "a", mem_gib=2)])
    choice = preflight(s.vms[0], "b", s)
    assert choice is not None and not choice.ok
    assert [c.name for c in choice.failed] == ["capacity: memory"]


def test_each_check_can_refuse() -> None:
    hosts = [host("a"), host("arm", arch="aarch64"), host("down", state=HostState.DOWN),
             host("b"), host("small", cpus=1)]
    s = snap(hosts, [vm("web", "a", vcpus=6), vm("off", "a", state=VMState.STOPPED),
                     dataclasses.replace(vm("web", "b", mem_gib=1, vcpus=1), id="other")])
    web, off = s.vms[0], s.vms[1]
    failed = lambda target, v=web, busy=(): [c.name for c in preflight(v, target, s, busy).failed]  # noqa: E731
    assert failed("arm") == ["same architecture/CPU model"]
    assert failed("down") == ["target reachable"]
    assert failed("b") == ["no name clash on target"]
    assert failed("small") == ["capacity: vCPUs"]
    assert "guest state" in failed("arm", off)
    assert failed("a") == ["different host"]
    assert "not already migrating" in failed("arm", web, {web.key})
    assert preflight(web, "nowhere", s) is None


def test_drain_reserves_capacity_as_it_places() -> None:
    s = snap([host("a"), host("b", mem_gib=5), host("c", mem_gib=5)],
             [vm("v1", "a", 2), vm("v2", "a", 2), vm("v3", "a", 2), vm("v4", "a", 2),
              vm("v5", "a", 2), vm("off", "a", state=VMState.STOPPED)])
    plan = plan_drain("a", s)
    targets = [t for _vm, t in plan.moves]
    assert sorted(targets) == ["b", "b", "c", "c"]
    assert [v.name for v, _why in plan.unplaced] == ["v5"]
    assert [v.name for v in plan.skipped] == ["off"]
