"""Which PromQL templates make each chart, and how their lines add up (pure functions)."""

from __future__ import annotations

CHART_TEMPLATES: dict[tuple[str, str], tuple[str, ...]] = {
    ("vm", "cpu"): ("vm_cpu_used",),
    ("vm", "memory"): ("vm_memory_used",),
    ("vm", "disk"): ("vm_disk_read", "vm_disk_write"),
    ("vm", "net"): ("vm_net_rx", "vm_net_tx"),
    ("host", "cpu"): ("host_cpu_used",),
    ("host", "memory"): ("host_memory_used",),
}
"""The templates whose sum makes each chart (disk and network: both directions)."""


def split_target(target: str) -> tuple[str, str]:
    """"vm:<backend>/<uuid>" → ("vm", uuid); "host:<name>" → ("host", name)."""
    kind, _, rest = target.partition(":")
    if kind == "vm":
        return kind, rest.rpartition("/")[2]
    return kind, rest


def sum_series(lines: list[tuple[tuple[float, float], ...]]) -> list[tuple[float, float]]:
    """Add series point by point on their shared timestamps (range queries align them)."""
    totals: dict[float, float] = {}
    for points in lines:
        for t, v in points:
            totals[t] = totals.get(t, 0.0) + v
    return sorted(totals.items())
