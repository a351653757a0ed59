"""Usage from vSphere's PerformanceManager: the `SupportsMetrics` half of `VsphereBackend`.

`samples` asks for `cpu.usage.average` and `mem.usage.average` of every host and running VM in
one QueryPerf (in batches of `BATCH` entities), the latest real-time sample each (`maxSample`
1: without it vCenter returns the whole hour). Both counters are hundredths of a percent of the
entity's own capacity; we turn them into cores and bytes, the units the console charts.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from typing import Any

from pyVmomi import vim

from console.models import Alert, MetricSample, VMState

from .actions import TaskRunner
from .inventory import Inventory

COUNTERS = {"cpu": "cpu.usage.average", "memory": "mem.usage.average"}
REALTIME_S = 20
"""vCenter's real-time interval (one hour kept); longer windows use the 5-minute rollup."""
HISTORICAL_S = 300
BATCH = 500


class MetricsMixin(TaskRunner):
    """Mixed into `VsphereBackend`; the entities come from its last inventory."""

    metrics_label = "vSphere performance counters"
    _last: Inventory

    def __init__(self) -> None:
        self._counter_ids: dict[str, int] = {}

    def _counters(self, content: Any) -> dict[str, int]:
        """Counter ids by our metric name (read once: PerformanceManager lists ~600)."""
        if not self._counter_ids:
            by_name = {f"{c.groupInfo.key}.{c.nameInfo.key}.{c.rollupType}": c.key
                       for c in content.perfManager.perfCounter}
            self._counter_ids = {ours: by_name[theirs] for ours, theirs in COUNTERS.items()
                                 if theirs in by_name}
        return self._counter_ids

    def _entities(self) -> list[tuple[str, Any, float, float]]:
        """(target, reference, full CPU in cores, full memory in bytes) of every host and
        running VM of the last inventory."""
        stub = self.session.stub  # type: ignore[attr-defined]
        out: list[tuple[str, Any, float, float]] = [
            (f"host:{h.name}", vim.HostSystem(h.id, stub), float(h.cpus), float(h.memory_bytes))
            for h in self._last.hosts]
        out += [(f"vm:{vm.backend}/{vm.id}", vim.VirtualMachine(self._last.vm_moids[vm.id], stub),
                 float(vm.vcpus), float(vm.memory_bytes))
                for vm in self._last.vms if vm.state is VMState.RUNNING]
        return out

    async def samples(self) -> Sequence[MetricSample]:
        """SupportsMetrics: the latest CPU (cores) and memory (bytes) of hosts and running VMs."""
        if not self._last.hosts:
            await self._inventory()  # type: ignore[attr-defined]
        return await self._call(self._query_latest)

    def _query_latest(self, content: Any) -> list[MetricSample]:
        counters = self._counters(content)
        entities = self._entities()
        out: list[MetricSample] = []
        for start in range(0, len(entities), BATCH):
            batch = entities[start:start + BATCH]
            specs = [_spec(ref, counters, interval=REALTIME_S, max_sample=1) for _t, ref, _c, _m in batch]
            by_ref = {ref._moId: (target, cpus, memory) for target, ref, cpus, memory in batch}
            for metric in content.perfManager.QueryPerf(specs) or ():
                target, cpus, memory = by_ref[metric.entity._moId]
                out += _to_samples(metric, counters, target, cpus, memory, last_only=True)
        return out

    async def series(self, target: str, metric: str, window_s: float) -> Sequence[tuple[float, float]]:
        """(time, value) of `cpu` (cores) or `memory` (bytes) of one host or VM; empty for
        anything else (vSphere's disk and network counters are not charted yet)."""
        if metric not in COUNTERS:
            return []
        if not self._last.hosts:
            await self._inventory()  # type: ignore[attr-defined]
        return await self._call(self._query_window, target, metric, window_s)

    def _query_window(self, content: Any, target: str, metric: str,
                      window_s: float) -> list[tuple[float, float]]:
        entity = next((e for e in self._entities() if e[0] == target), None)
        if entity is None:
            return []
        counters = self._counters(content)
        target, ref, cpus, memory = entity
        interval = REALTIME_S if window_s <= 3600 else HISTORICAL_S
        begin = dt.datetime.fromtimestamp(time.time() - window_s, dt.UTC)
        spec = _spec(ref, {metric: counters[metric]}, interval=interval, begin=begin,
                     max_sample=max(1, int(window_s // interval)))  # vcsim answers none without
        points: list[tuple[float, float]] = []
        for found in content.perfManager.QueryPerf([spec]) or ():
            points += [(s.timestamp, s.value) for s in _to_samples(found, counters, target, cpus,
                                                                   memory, last_only=False)]
        return points

    async def alerts(self) -> Sequence[Alert]:
        """vCenter's triggered alarms are not read yet: none."""
        return []


def _spec(ref: Any, counters: dict[str, int], *, interval: int, max_sample: int | None = None,
          begin: dt.datetime | None = None) -> Any:
    return vim.PerformanceManager.QuerySpec(
        entity=ref, intervalId=interval, maxSample=max_sample, startTime=begin,
        metricId=[vim.PerformanceManager.MetricId(counterId=c, instance="") for c in counters.values()])


def _to_samples(metric: Any, counters: dict[str, int], target: str, cpus: float, memory: float, *,
                last_only: bool) -> list[MetricSample]:
    """Hundredths of a percent → cores (cpu) and bytes (memory), one sample per point."""
    names = {v: k for k, v in counters.items()}
    stamps = [info.timestamp.timestamp() for info in metric.sampleInfo or ()]
    out: list[MetricSample] = []
    for series in metric.value or ():
        name = names.get(series.id.counterId)
        if name is None:
            continue
        full = cpus if name == "cpu" else memory
        pairs = list(zip(stamps, series.value or (), strict=False))
        for stamp, raw in pairs[-1:] if last_only else pairs:
            if raw >= 0:  # -1: no sample for that instant
                out.append(MetricSample(target=target, metric=name, timestamp=stamp,
                                        value=raw / 10_000 * full))
    return out
