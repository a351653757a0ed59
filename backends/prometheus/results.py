"""Small frozen results of the metrics calls, in plain values (no markup, no library objects).

Why not only `MetricSample`: the hosts screen wants one row per host with several numbers, and
a chart wants a series of points; shaping them here keeps the screens free of PromQL results.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class HostUsage:
    """What one hypervisor is using now, as node_exporter reports it."""

    host: str
    cpus: int = 0
    """Logical CPUs (0 when unknown)."""
    cpu_used: float | None = None
    """CPU cores busy (0.0 … cpus)."""
    memory_bytes: int = 0
    memory_used_bytes: int | None = None

    @property
    def cpu_ratio(self) -> float | None:
        """Busy fraction of all CPUs, when both numbers are known."""
        return busy_fraction(self.cpu_used, self.cpus)


def busy_fraction(cpu_used: float | None, cpus: int) -> float | None:
    """CPU cores busy as a fraction of all `cpus`, when both are known."""
    if cpu_used is None or not cpus:
        return None
    return cpu_used / cpus


@dataclass(frozen=True, slots=True)
class VMUsage:
    """What one VM is using now, as the libvirt exporter reports it."""

    vm_id: str
    host: str
    cpu_used: float | None = None
    """CPU cores busy."""
    memory_used_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class Series:
    """One line of a chart: a target (VM id or host), its labels, and (time, value) points."""

    target: str
    labels: tuple[tuple[str, str], ...]
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class QueryStats:
    """How much this backend has asked of Prometheus since it was created."""

    queries: int = 0
    """HTTP requests sent (instant, range and alerts)."""
    bytes: int = 0
    """Response body bytes after decompression."""
    seconds: float = 0.0
    """Time spent waiting for answers, summed over requests."""
