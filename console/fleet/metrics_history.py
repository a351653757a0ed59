"""Metric history kept from fleet snapshots: the tables' sparklines, and the charts when no
Prometheus feed is configured.

Each snapshot carries, per VM, either the CPU cores it uses now (a source that computes rates
itself: Prometheus) or its cumulative CPU time (libvirt), whose rate is computed here between
consecutive snapshots; and each host's busy fraction. Values are kept in bounded ring buffers
(so a wall display running for days uses constant memory). Series are keyed "host:NAME" /
"vm:KEY".
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from console.models import FleetSnapshot

DEFAULT_POINTS = 720
"""Points kept per series: one hour at a 5 s poll."""


class Point(NamedTuple):
    t: float
    value: float


class Series:
    """A bounded, time-ordered list of points for one metric of one target.

    Times and values are kept in two `array("d")`: 16 bytes a point and nothing for the
    garbage collector to walk (a deque of tuples is ~90 bytes a point at 100k VMs, and each
    point one more object every full collection visits). The oldest points are dropped in
    batches of `maxlen // 8`, so adding stays cheap; only the last `maxlen` count."""

    __slots__ = ("_maxlen", "_t", "_v")

    def __init__(self, maxlen: int = DEFAULT_POINTS) -> None:
        self._maxlen = maxlen
        self._t = array("d")
        self._v = array("d")

    def add(self, t: float, value: float) -> None:
        times = self._t
        if times and t <= times[-1]:
            return
        times.append(t)
        self._v.append(value)
        excess = len(times) - self._maxlen
        if excess > self._maxlen // 8:
            del times[:excess]
            del self._v[:excess]

    def _start(self) -> int:
        return max(0, len(self._t) - self._maxlen)

    def window(self, seconds: float, now: float) -> list[Point]:
        first = bisect.bisect_left(self._t, now - seconds, self._start())
        return [Point(t, v) for t, v in zip(self._t[first:], self._v[first:], strict=True)]

    def latest(self, n: int) -> list[float]:
        """The last `n` values, oldest first, without copying the whole buffer (this runs for
        every row a table redraws)."""
        return self._v[max(self._start(), len(self._v) - n):].tolist() if n > 0 else []

    def last(self) -> float | None:
        return self._v[-1] if self._v else None

    def __len__(self) -> int:
        return min(len(self._t), self._maxlen)


def vcpu_fraction(cores: float, vcpus: int) -> float:
    """CPU cores busy as the fraction (0 to 1) of a VM's vCPUs that the "cpu" series hold."""
    return min(1.0, max(0.0, cores / vcpus))


class MetricsHistory:
    """CPU (fraction of allocated vCPUs, or host CPUs) and memory per host and VM."""

    def __init__(self, maxlen: int = DEFAULT_POINTS) -> None:
        self._maxlen = maxlen
        self._series: dict[tuple[str, str], Series] = {}
        self._last_cpu: dict[str, tuple[float, int]] = {}
        self.source = "libvirt domain stats"

    def series(self, target: str, metric: str) -> Series:
        key = (target, metric)
        if key not in self._series:
            self._series[key] = Series(self._maxlen)
        return self._series[key]

    def tail(self, target: str, metric: str, n: int) -> list[float]:
        """The last `n` values of a series, without creating one (100k VMs, most with none)."""
        series = self._series.get((target, metric))
        if series is None:
            return []
        return series.latest(n)

    def targets(self) -> Iterable[str]:
        return {target for target, _metric in self._series}

    def ingest(self, snapshot: FleetSnapshot) -> None:
        """Record one snapshot; stale data is skipped (it is not a new measurement).

        Each value is stamped with its own source's poll time, not the snapshot's: the fleet
        publishes whenever any source answers, and dividing one host's CPU-time delta by
        another host's poll interval would make rates swing wildly.
        """
        for _ in self.ingest_steps(snapshot):
            pass

    def ingest_steps(self, snapshot: FleetSnapshot, step: int = 5000) -> Iterator[None]:
        """`ingest`, yielding after every `step` VMs, so a caller on the event loop can serve
        keys between steps at 100k VMs (the history is consistent only once it is exhausted)."""
        polled = {h.name: h.last_success for h in snapshot.health if h.last_success}
        live_keys = set()
        for n, vm in enumerate(snapshot.vms, 1):
            if n % step == 0:
                yield
            t = polled.get(vm.backend)
            if vm.stale or t is None:
                continue
            key = f"vm:{vm.key}"
            live_keys.add(key)
            self.series(key, "memory").add(t, float(vm.memory_bytes))
            if vm.cpu_used_cores is not None:  # the source's own rate: no delta to take
                if vm.vcpus:
                    self.series(key, "cpu").add(t, vcpu_fraction(vm.cpu_used_cores, vm.vcpus))
                continue
            if not vm.cpu_time_ns:
                continue  # the source does not report CPU time (e.g. libvirt's test driver)
            previous = self._last_cpu.get(key)
            if previous is not None and previous[0] == t:
                continue  # same measurement, republished because another source answered
            self._last_cpu[key] = (t, vm.cpu_time_ns)
            if previous and vm.cpu_time_ns >= previous[1] and t > previous[0] and vm.vcpus:
                cores = (vm.cpu_time_ns - previous[1]) / 1e9 / (t - previous[0])
                self.series(key, "cpu").add(t, vcpu_fraction(cores, vm.vcpus))
        for host in snapshot.hosts:
            t = polled.get(host.backend)
            if host.stale or t is None:
                continue
            key = f"host:{host.name}"
            live_keys.add(key)
            if host.cpu_usage is not None:
                self.series(key, "cpu").add(t, host.cpu_usage)
            if host.free_memory_bytes is not None:
                self.series(key, "memory").add(t, float(host.memory_bytes - host.free_memory_bytes))
        yield from self._forget_missing(live_keys, snapshot, step)

    def _forget_missing(self, live: set[str], snapshot: FleetSnapshot, step: int
                        ) -> Iterator[None]:
        """Drop series of targets that left the fleet, so memory stays bounded over days."""
        present = set(live)
        for n, vm in enumerate(snapshot.vms, 1):
            present.add(f"vm:{vm.key}")
            if n % step == 0:
                yield
        present.update(f"host:{h.name}" for h in snapshot.hosts)
        gone = []
        for n, series_key in enumerate(list(self._series), 1):
            if series_key[0] not in present:
                gone.append(series_key)
            if n % step == 0:
                yield
        for series_key in gone:
            del self._series[series_key]
        for target in [k for k in self._last_cpu if k not in present]:
            del self._last_cpu[target]

    def top(self, metric: str, prefix: str, n: int = 10) -> list[tuple[str, float]]:
        """The `n` targets (of kind `prefix`, "vm:" or "host:") with the highest last value."""
        values = [(target, series.last()) for (target, m), series in self._series.items()
                  if m == metric and target.startswith(prefix)]
        ranked = sorted(((t, v) for t, v in values if v is not None), key=lambda tv: -tv[1])
        return ranked[:n]
