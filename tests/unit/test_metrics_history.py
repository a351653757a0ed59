"""MetricsHistory: VM CPU from a source's own rate (`VM.cpu_used_cores`, Prometheus) used as
is, and from libvirt's cumulative CPU time by deltas between polls, on the same scale."""

from __future__ import annotations

from console.fleet.metrics_history import MetricsHistory
from console.models import VM, FleetSnapshot, Host, SourceHealth, VMState


def prom_vm(cores: float | None, vcpus: int = 4, *, stale: bool = False, uuid: str = "u1") -> VM:
    return VM(id=uuid, name=f"vm-{uuid}", state=VMState.RUNNING, host="kvm-1", backend="prom",
              vcpus=vcpus, memory_bytes=2**30, cpu_used_cores=cores, stale=stale)


def libvirt_vm(cpu_time_ns: int, vcpus: int = 2) -> VM:
    return VM(id="d1", name="dom", state=VMState.RUNNING, host="h1", backend="kvm",
              vcpus=vcpus, memory_bytes=2**30, cpu_time_ns=cpu_time_ns)


def snap(*vms: VM, hosts: tuple[Host, ...] = (), prom_at: float = 100.0,
         kvm_at: float = 100.0) -> FleetSnapshot:
    health = (SourceHealth("prom", True, last_success=prom_at),
              SourceHealth("kvm", True, last_success=kvm_at))
    return FleetSnapshot("ctx", max(prom_at, kvm_at), hosts=hosts, vms=vms, health=health)


def test_the_sources_rate_is_a_point_from_the_first_poll_as_a_fraction_of_vcpus() -> None:
    history = MetricsHistory()
    history.ingest(snap(prom_vm(1.0, vcpus=4), prom_at=100.0))
    assert history.tail("vm:prom/u1", "cpu", 8) == [0.25]  # no earlier poll needed
    history.ingest(snap(prom_vm(3.0, vcpus=4), prom_at=105.0))
    assert history.tail("vm:prom/u1", "cpu", 8) == [0.25, 0.75]  # moves as the rate moves


def test_a_republished_measurement_adds_no_point() -> None:
    """Another source answering republishes the same Prometheus poll (same `last_success`)."""
    history = MetricsHistory()
    history.ingest(snap(prom_vm(2.0), prom_at=100.0, kvm_at=100.0))
    history.ingest(snap(prom_vm(2.0), prom_at=100.0, kvm_at=104.0))
    assert history.tail("vm:prom/u1", "cpu", 8) == [0.5]


def test_out_of_range_and_unusable_rates() -> None:
    history = MetricsHistory()
    history.ingest(snap(prom_vm(6.0, vcpus=4, uuid="over"), prom_vm(0.0, uuid="idle"),
                        prom_vm(1.0, vcpus=0, uuid="novcpus"), prom_vm(None, uuid="norate"),
                        prom_vm(1.0, stale=True, uuid="stale")))
    assert history.tail("vm:prom/over", "cpu", 8) == [1.0]  # capped like the libvirt path
    assert history.tail("vm:prom/idle", "cpu", 8) == [0.0]
    for gone in ("novcpus", "norate", "stale"):
        assert history.tail(f"vm:prom/{gone}", "cpu", 8) == []
    assert history.tail("vm:prom/norate", "memory", 8) == [float(2**30)]


def test_libvirt_cpu_time_deltas_on_the_same_scale_beside_prometheus_rates() -> None:
    history = MetricsHistory()
    history.ingest(snap(libvirt_vm(10 * 10**9), prom_vm(1.0, vcpus=2), kvm_at=100.0,
                        prom_at=100.0))
    assert history.tail("vm:kvm/d1", "cpu", 8) == []  # a delta needs two polls
    # 5 s later: 5 more CPU seconds on 2 vCPUs is 1 core busy, half the VM, like 1.0 of 2 here.
    history.ingest(snap(libvirt_vm(15 * 10**9), prom_vm(1.0, vcpus=2), kvm_at=105.0,
                        prom_at=105.0))
    assert history.tail("vm:kvm/d1", "cpu", 8) == [0.5]
    assert history.tail("vm:prom/u1", "cpu", 8) == [0.5, 0.5]
    assert [target for target, _ in history.top("cpu", "vm:")] in (
        ["vm:kvm/d1", "vm:prom/u1"], ["vm:prom/u1", "vm:kvm/d1"])


def test_the_rate_wins_over_cpu_time_when_a_vm_carries_both() -> None:
    history = MetricsHistory()
    both = VM(id="u1", name="x", state=VMState.RUNNING, host="kvm-1", backend="prom", vcpus=4,
              cpu_time_ns=10**9, cpu_used_cores=2.0)
    history.ingest(snap(both, prom_at=100.0))
    history.ingest(snap(VM(id="u1", name="x", state=VMState.RUNNING, host="kvm-1",
                           backend="prom", vcpus=4, cpu_time_ns=10**12, cpu_used_cores=2.0),
                        prom_at=110.0))
    assert history.tail("vm:prom/u1", "cpu", 8) == [0.5, 0.5]


def test_prometheus_hosts_busy_fraction_feeds_the_host_trend() -> None:
    history = MetricsHistory()
    host = Host(id="kvm-1", name="kvm-1", backend="prom", cpus=8, cpu_usage=0.25)
    history.ingest(snap(hosts=(host,), prom_at=100.0))
    assert history.tail("host:kvm-1", "cpu", 8) == [0.25]
