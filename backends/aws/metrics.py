"""CloudWatch figures for EC2 instances: the `SupportsMetrics` half of `AwsBackend`.

GetMetricData is billed per metric requested, so every call is counted (`metrics_budget`),
queries are batched (up to 500 a call), and the fleet-wide CPU figures (`samples`) are fetched
at most once per monitoring period (5 minutes with basic monitoring: asking more often only
costs money). EC2 publishes CPUUtilization, NetworkIn/Out and EBSRead/WriteBytes
(DiskRead/WriteBytes for instance store); memory needs the CloudWatch agent, so a memory chart
is empty.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from console.errors import Code, NovaError
from console.models import VM, MetricSample

from .ids import InstanceRef, parse_ref

MAX_QUERIES = 500
"""GetMetricData's limit of queries per call."""
BASIC_PERIOD_S = 300
DETAILED_PERIOD_S = 60
CHARTS: dict[str, tuple[tuple[str, str], ...]] = {
    "cpu": (("CPUUtilization", "Average"),),
    "net": (("NetworkIn", "Sum"), ("NetworkOut", "Sum")),
    "disk": (("EBSReadBytes", "Sum"), ("EBSWriteBytes", "Sum"),
             ("DiskReadBytes", "Sum"), ("DiskWriteBytes", "Sum")),
}
"""The EC2 metrics each chart adds up (the statistic that makes sense for each)."""


@dataclass
class MetricsBudget:
    """What CloudWatch has been asked since the source opened (GetMetricData is billed per
    metric requested)."""

    calls: int = 0
    metrics: int = 0
    since: float = field(default_factory=time.time)

    def __str__(self) -> str:
        return (f"{self.calls} GetMetricData calls, {self.metrics} metrics requested so far "
                "(billed per 1,000 metrics)")


class MetricsMixin:
    """Mixed into `AwsBackend`; relies on its `_api`, `name`, `clock` and last sweep."""

    name: str
    clock: Callable[[], float]
    _api: Callable[..., Any]
    monitoring: dict[str, str]
    metrics_budget: MetricsBudget
    vcpus_now: Callable[[InstanceRef], Any]
    _shared_sweep: Callable[[], Any]

    def _init_metrics(self, every_s: float = BASIC_PERIOD_S) -> None:
        self.monitoring = {}
        self.metrics_budget = MetricsBudget()
        self.samples_every_s = every_s
        """The fleet's CPU figures are asked again at most this often (the 5-minute period
        of basic monitoring by default: asking more often only costs money)."""
        self._samples: tuple[float, list[MetricSample]] | None = None

    @property
    def metrics_label(self) -> str:
        """Said on screen: where the figures come from, how fine they are, what it cost."""
        states = set(self.monitoring.values())
        if states == {"enabled"}:
            kind = "CloudWatch, 1-minute detailed monitoring"
        elif "enabled" in states:
            kind = "CloudWatch, 5-minute basic monitoring (1-minute where detailed is on)"
        else:
            kind = "CloudWatch, 5-minute basic monitoring"
        return f"{kind}; fleet CPU every {self.samples_every_s / 60:g} min; {self.metrics_budget}"

    def period_of(self, instance_id: str) -> int:
        detailed = self.monitoring.get(instance_id) == "enabled"
        return DETAILED_PERIOD_S if detailed else BASIC_PERIOD_S

    async def metric_data(self, profile: str, region: str, queries: list[dict[str, Any]],
                          start: float, end: float) -> dict[str, list[tuple[float, float]]]:
        """Points per query id, `MAX_QUERIES` queries a call, every page followed."""
        found: dict[str, list[tuple[float, float]]] = {}
        for first in range(0, len(queries), MAX_QUERIES):
            batch = queries[first:first + MAX_QUERIES]
            token: str | None = None
            while True:
                self.metrics_budget.calls += 1
                self.metrics_budget.metrics += len(batch)
                answer = await self._api(
                    "cloudwatch", profile, region, "get_metric_data", MetricDataQueries=batch,
                    StartTime=dt.datetime.fromtimestamp(start, dt.UTC),
                    EndTime=dt.datetime.fromtimestamp(end, dt.UTC),
                    ScanBy="TimestampAscending", **({"NextToken": token} if token else {}))
                for result in answer.get("MetricDataResults", ()):
                    points = zip(result.get("Timestamps", ()), result.get("Values", ()), strict=False)
                    found.setdefault(result["Id"], []).extend(
                        (t.timestamp(), float(v)) for t, v in points)
                token = answer.get("NextToken")
                if not token:
                    break
        return found

    async def series(self, target: str, metric: str,
                     window_s: float) -> list[tuple[float, float]]:
        """SupportsMetrics: CPU in cores (CPUUtilization x vCPUs), network and disk in bytes/s
        (both directions added); empty for memory (not published by EC2) and hosts."""
        kind, _, rest = target.partition(":")
        if kind != "vm" or metric not in CHARTS:
            return []
        ref = parse_ref(rest.rpartition("/")[2])
        period = max(self.period_of(ref.instance_id),
                     60 * math.ceil(window_s / 1440 / 60))  # at most ~1,440 points
        queries = [_query(f"m{n}", ref.instance_id, name, stat, period)
                   for n, (name, stat) in enumerate(CHARTS[metric])]
        start, end = aligned(self.clock(), window_s, period)
        got = await self.metric_data(ref.profile, ref.region, queries, start, end)
        totals: dict[float, float] = {}
        for points in got.values():
            for t, v in points:
                totals[t] = totals.get(t, 0.0) + v
        scale = await self._cpu_scale(ref) if metric == "cpu" else 1.0 / period
        return sorted((t, v * scale) for t, v in totals.items())

    async def _cpu_scale(self, ref: InstanceRef) -> float:
        """Percent of the instance's vCPUs → cores (its size from the last inventory, else
        described now: a metrics-only source has no inventory)."""
        last = getattr(self, "_last", None)
        vcpus = next((vm.vcpus for vm in (last.vms if last else ()) if vm.id == str(ref)), 0)
        if not vcpus:
            vcpus = await self.vcpus_now(ref)
        if not vcpus:
            raise NovaError(Code.BACKEND_ERROR, f"the vCPU count of {ref} is unknown",
                            "its instance type's size could not be read, so CPUUtilization "
                            "cannot be turned into cores")
        return vcpus / 100.0

    async def samples(self) -> Sequence[MetricSample]:
        """SupportsMetrics: the latest CPU use (cores) of every running instance, batched per
        (profile, region), `MAX_QUERIES` a call; fetched again at most every
        `samples_every_s`. The instances are the last inventory's, or (a metrics-only source
        opened beside the fleet's) its own, listed again at the same pace. A target is the
        VM's id, as `console.fleet.usage` looks it up."""
        now = self.clock()
        if self._samples is not None and now - self._samples[0] < self.samples_every_s:
            return self._samples[1]
        last = getattr(self, "_last", None)
        if last is None or now - last.finished > self.samples_every_s:
            last = await self._shared_sweep()
        running: list[VM] = [vm for vm in last.vms if vm.state.value == "running"]
        by_pair: dict[tuple[str, str], list[VM]] = {}
        for vm in running:
            ref = parse_ref(vm.id)
            by_pair.setdefault((ref.profile, ref.region), []).append(vm)
        out: list[MetricSample] = []
        for (profile, region), vms in by_pair.items():
            ids = {f"q{n}": vm for n, vm in enumerate(vms)}
            queries = [_query(q, parse_ref(vm.id).instance_id, "CPUUtilization", "Average",
                              self.period_of(parse_ref(vm.id).instance_id))
                       for q, vm in ids.items()]
            try:
                got = await self.metric_data(profile, region, queries,
                                             *aligned(now, 3 * BASIC_PERIOD_S, BASIC_PERIOD_S))
            except NovaError:
                continue
            for q, points in got.items():
                if points:
                    t, v = max(points)
                    vm = ids[q]
                    out.append(MetricSample(vm.id, "vm_cpu_used", t, v / 100.0 * (vm.vcpus or 1)))
        self._samples = (now, out)
        return out


def aligned(now: float, window_s: float, period: int) -> tuple[float, float]:
    """Start and end on period boundaries, as CloudWatch advises (its points then fall on
    them too), covering at least the last `window_s` and the period still filling."""
    end = math.ceil(now / period) * period
    return math.floor((now - window_s) / period) * period, float(end)


def _query(qid: str, instance_id: str, name: str, stat: str, period: int) -> dict[str, Any]:
    return {"Id": qid, "ReturnData": True, "MetricStat": {
        "Metric": {"Namespace": "AWS/EC2", "MetricName": name,
                   "Dimensions": [{"Name": "InstanceId", "Value": instance_id}]},
        "Period": period, "Stat": stat}}
