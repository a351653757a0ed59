"""Usage from vSphere's PerformanceManager: the `SupportsMetrics` half of `VsphereBackend`.

`samples` asks for `cpu.usage.average` and `mem.usage.average` of every host and running VM in
one QueryPerf (in batches of `BATCH` entities), the latest real-time sample each (`maxSample`
1: without it vCenter returns the whole hour). Both counters are hundredths of a percent of the
entity's own capacity; we turn them into cores and bytes, the units the console charts.
Alerts are vCenter's triggered alarms (vcsim has none, and no AlarmManager to make one).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from typing import Any

from pyVmomi import vim

from console.models import Alert, MetricSample, VMState
from console.sanitize import clean

from .actions import TaskRunner
from .inventory import PC, Inventory, properties_of, retrieve

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
        self._latest: tuple[tuple[str, ...], float, list[MetricSample]] | None = None
        """The entities last asked about, when (monotonic), and their samples."""

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
        """SupportsMetrics: the latest CPU (cores) and memory (bytes) of hosts and running VMs.

        Asked again within `REALTIME_S` about the same hosts and VMs, the last answer: vCenter
        takes a real-time sample every 20 s, so a 5 s poll got the same samples three times
        in four, and decoding them (~0.5 s of a worker's CPU for 2,200 VMs against vcsim)
        held the GIL the event loop needs (`make bench ARGS=latency`, vsphere case)."""
        if not self._last.hosts:
            await self._inventory()  # type: ignore[attr-defined]
        asked = tuple(h.id for h in self._last.hosts) + tuple(
            vm.id for vm in self._last.vms if vm.state is VMState.RUNNING)
        now = time.monotonic()
        if self._latest is not None:
            before, at, samples = self._latest
            if before == asked and now - at < REALTIME_S:
                return samples
        samples = await self._call(self._query_latest)
        self._latest = (asked, now, samples)
        return samples

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
        """vCenter's triggered alarms (`rootFolder.triggeredAlarmState`, which rolls up every
        entity's), red before yellow, named after their alarm definitions: two calls."""
        if not self._last.hosts:
            await self._inventory()  # type: ignore[attr-defined]
        return await self._call(self._read_alarms)

    def _read_alarms(self, content: Any) -> list[Alert]:
        states = properties_of(content, content.rootFolder, ["triggeredAlarmState"]).get(
            "triggeredAlarmState") or []
        if not states:
            return []
        spec = PC.FilterSpec(
            objectSet=[PC.ObjectSpec(obj=ref, skip=False) for ref in {s.alarm for s in states}],
            propSet=[PC.PropertySpec(type=vim.alarm.Alarm, pathSet=["info.name", "info.description"])])
        objects, _calls = retrieve(content.propertyCollector, spec)
        alarms = {o.obj._moId: {p.name: p.val for p in o.propSet or ()} for o in objects}
        return alerts_from(states, alarms, self._last, source=self.name)  # type: ignore[attr-defined]


SEVERITY = {"red": "critical", "yellow": "warning"}


def alerts_from(states: Sequence[Any], alarms: dict[str, dict[str, Any]], inventory: Inventory, *,
                source: str) -> list[Alert]:
    """Alerts from vSphere AlarmStates (pure): the alarm's name and description, the host or VM
    it is about (by the last inventory), critical (red) before warning (yellow); green and
    gray states are not alerts."""
    hosts = {h.id: h.name for h in inventory.hosts}
    vms = {moid: vm_id for vm_id, moid in inventory.vm_moids.items()}
    names = {vm.id: vm.name for vm in inventory.vms}
    out: list[Alert] = []
    for state in states:
        severity = SEVERITY.get(str(state.overallStatus))
        if severity is None:
            continue
        alarm = alarms.get(state.alarm._moId, {})
        entity = state.entity._moId if state.entity is not None else ""
        vm_id = vms.get(entity, "")
        out.append(Alert(
            name=clean(alarm.get("info.name") or state.alarm._moId), state="firing", source=source,
            severity=severity, summary=clean(alarm.get("info.name") or ""),
            description=clean(alarm.get("info.description") or ""),
            host=hosts.get(entity, ""), vm_id=vm_id, vm_name=names.get(vm_id, ""),
            active_since=state.time.timestamp() if state.time is not None else None,
            labels=(("acknowledged", "yes" if state.acknowledged else "no"), ("entity", entity))))
    out.sort(key=lambda a: (a.severity != "critical", -(a.active_since or 0.0)))
    return out


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
