"""Azure Monitor platform metrics of the VMs: CPU, memory, network and disk, batched.

One `metrics:getBatch` call (azure-monitor-querymetrics `MetricsClient.query_resources`) per
region and 50 VMs, on the region's own endpoint. Azure reports CPU as a percentage of the VM's
vCPUs, memory as bytes available, network and disk as bytes per interval: `to_points` turns
them into what the console charts (cores, bytes used, bytes/s).
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import HttpResponseError

from console.errors import Code, NovaError
from console.models import VM, Alert, MetricSample, VMState

from .errors import arm_error, translate
from .inventory import region_of

NAMESPACE = "Microsoft.Compute/virtualMachines"
BATCH = 50
"""ARM accepts at most 50 resource ids per getBatch call."""
FLEET_CPU = "vm_cpu_used"
"""The fleet's usage samples are named as the console's usage filler reads them (cores)."""
SAMPLES_EVERY_S = 60.0
"""Azure aggregates platform metrics per minute: asking the fleet's CPU more often only spends
getBatch calls (and throttling budget) on the same figures."""
READ_ROLE_HINT = ("give the credential the Monitoring Reader role (Microsoft.Insights/metrics/"
                  "read) on the VMs' subscription or resource groups")


@dataclass(frozen=True, slots=True)
class Recipe:
    """How one console metric is made from Azure Monitor metrics."""

    names: tuple[str, ...]
    aggregation: str
    convert: Callable[[float, VM, float], float]
    """(summed Azure value, the VM, interval seconds) → the console's unit."""


RECIPES: dict[str, Recipe] = {
    "cpu": Recipe(("Percentage CPU",), "average", lambda v, vm, _s: v / 100.0 * vm.vcpus),
    "memory": Recipe(("Available Memory Bytes",), "average",
                     lambda v, vm, _s: max(0.0, vm.memory_bytes - v)),
    "net": Recipe(("Network In Total", "Network Out Total"), "total",
                  lambda v, _vm, s: v / s if s else 0.0),
    "disk": Recipe(("Disk Read Bytes", "Disk Write Bytes"), "total",
                   lambda v, _vm, s: v / s if s else 0.0),
}


def to_points(result: Any, recipe: Recipe, vm: VM) -> list[tuple[float, float]]:
    """A `MetricsQueryResult` as (unix time, value) points in the console's unit; intervals
    Azure has no value for yet (the last minutes) are left out, not drawn as zero."""
    step = result.granularity.total_seconds() if result.granularity else 60.0
    summed: dict[float, float] = defaultdict(float)
    seen: set[float] = set()
    for metric in result.metrics:
        if _name(metric) not in recipe.names:
            continue
        for series in metric.timeseries or ():
            for value in series.data or ():
                number = getattr(value, recipe.aggregation, None)
                if number is None:
                    continue
                when = value.timestamp.timestamp()
                summed[when] += float(number)
                seen.add(when)
    return [(t, recipe.convert(summed[t], vm, step)) for t in sorted(seen)]


def resource_of(result: Any) -> str:
    """The VM a result is about: the metric id is `<resource id>/providers/Microsoft.Insights/
    metrics/<name>`."""
    for metric in result.metrics:
        metric_id = str(getattr(metric, "id", "") or "")
        head, sep, _ = metric_id.lower().partition("/providers/microsoft.insights/metrics/")
        if sep:
            return head
    return ""


def _name(metric: Any) -> str:
    name = metric.name
    return str(getattr(name, "value", name))


class MetricsMixin:
    """`SupportsMetrics` for `AzureBackend` (which provides the VMs, settings and credential)."""

    metrics_label = "Azure Monitor platform metrics (1-minute, a few minutes behind)"
    name: str
    retries: int
    _vms: tuple[VM, ...]
    _samples: tuple[float, list[MetricSample]] | None = None
    """When the fleet's CPU was last asked (monotonic) and what Azure said."""
    _credential: Any
    config: Any
    client_options: Callable[[], dict[str, Any]]
    vms: Callable[[], Any]

    async def series(self, target: str, metric: str,
                     window_s: float) -> Sequence[tuple[float, float]]:
        recipe = RECIPES.get(metric)
        await self._known()
        vm = self._vm_of(target)
        if recipe is None or vm is None:
            return []
        results = await self._query(vm.host, [vm], recipe.names, recipe.aggregation,
                                     window_s)
        mine = next((r for r in results if resource_of(r) == vm.id.lower()), None)
        return to_points(mine, recipe, vm) if mine is not None else []

    async def samples(self) -> Sequence[MetricSample]:
        """The latest CPU (cores) of every running VM, one batch per region and 50 VMs, asked
        at most every `SAMPLES_EVERY_S`."""
        if self._samples is not None and time.monotonic() - self._samples[0] < SAMPLES_EVERY_S:
            return self._samples[1]
        recipe = RECIPES["cpu"]
        await self._known()
        running = [vm for vm in self._vms if vm.state is VMState.RUNNING]
        by_region: dict[str, list[VM]] = defaultdict(list)
        for vm in running:
            by_region[region_of(vm.host)].append(vm)
        found: list[MetricSample] = []
        for region, vms in by_region.items():
            ids = {vm.id.lower(): vm for vm in vms}
            for start in range(0, len(vms), BATCH):
                chunk = vms[start:start + BATCH]
                for result in await self._query(region, chunk, recipe.names,
                                                recipe.aggregation, 900.0):
                    about = ids.get(resource_of(result))
                    points = to_points(result, recipe, about) if about else []
                    if about and points:
                        found.append(MetricSample(f"vm:{self.name}/{about.id}", FLEET_CPU,
                                                  points[-1][0], points[-1][1]))
        self._samples = (time.monotonic(), found)
        return found

    async def alerts(self) -> Sequence[Alert]:
        return []  # Azure Monitor alert rules are not read (yet)

    async def _known(self) -> None:
        """The metrics source of a context is its own backend object: list the VMs once so it
        knows their regions, vCPUs and memory."""
        if not self._vms:
            await self.vms()

    def _vm_of(self, target: str) -> VM | None:
        kind, _, rest = target.partition(":")
        backend, _, vm_id = rest.partition("/")
        if kind != "vm" or backend != self.name:
            return None
        return next((vm for vm in self._vms if vm.id == vm_id), None)

    async def _query(self, host: str, vms: Iterable[VM], names: Sequence[str],
                     aggregation: str, window_s: float) -> list[Any]:
        from azure.monitor.querymetrics.aio import MetricsClient

        region = region_of(host)
        endpoint = self.config.metrics_endpoint.format(region=region)
        options = self.client_options()
        try:
            async with MetricsClient(endpoint, self._credential,
                                     connection_verify=options["connection_verify"],
                                     retry_total=options["retry_total"]) as client:
                return list(await client.query_resources(
                    resource_ids=[vm.id for vm in vms], metric_namespace=NAMESPACE,
                    metric_names=list(names), aggregations=[aggregation],
                    timespan=dt.timedelta(seconds=max(window_s, 300.0)),
                    granularity=dt.timedelta(minutes=1)))
        except NovaError:
            raise
        except Exception as exc:
            error = translate(exc, f"Azure Monitor metrics for {region}", retries=self.retries)
            if isinstance(exc, HttpResponseError) and exc.status_code == 403:
                code, message = arm_error(exc)  # the role to ask for is not ARM's generic one
                error = NovaError(Code.PERMISSION_DENIED, error.detail,
                                  f"{code}: {message}; {READ_ROLE_HINT}")
            raise error from exc

