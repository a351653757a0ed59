"""Hosts-screen rows: what an operator reads for a host whose capacity is unknown."""

from __future__ import annotations

from console.fleet.capacity import host_capacity
from console.models import VM, FleetSnapshot, Host, VMState
from screens.rows import HOST_COLUMNS, UNKNOWN, host_row

GIB = 2**30


def cells(host: Host) -> dict[str, str]:
    vms = tuple(VM(id=f"u{i}", name=f"vm-{i}", state=VMState.RUNNING, host=host.name,
                   backend=host.backend, vcpus=1, memory_bytes=GIB // 2) for i in range(4))
    [cap] = host_capacity(FleetSnapshot(context="t", taken_at=0, hosts=(host,), vms=vms))
    return dict(zip((c.key for c in HOST_COLUMNS), host_row(cap).cells, strict=True))


def test_unknown_capacity_is_a_question_mark_not_zero_or_negative_headroom() -> None:
    row = cells(Host(id="h", name="labhost1", backend="prom"))  # no node_exporter series
    assert row["vcpu"] == f"4/{UNKNOWN}"
    assert row["memory"].endswith(f"/{UNKNOWN}")
    assert row["headroom"] == UNKNOWN
    assert row["overcommit"] == "-"


def test_known_capacity_shows_figures() -> None:
    row = cells(Host(id="h", name="kvm-1", backend="kvm-1", cpus=8, memory_bytes=16 * GIB))
    assert row["vcpu"] == "4/8"
    assert row["overcommit"] == "0.50x"
    assert row["headroom"] == "14 GiB"
