"""Prometheus as a NovaCron backend: metrics and alerts always, the inventory when asked.

Why inventory from Prometheus: at thousands of hosts, connecting to every libvirtd each poll is
slow and fragile, while the libvirt exporters already publish every domain. A handful of
batched instant queries (`… by (instance, uuid)`) draw 100,000 VMs; the console connects to a
host only to act on it. With `inventory=False` this backend lists nothing (another backend owns
the inventory) and only serves usage, charts, top-N and alerts.

Everything works the same against any engine that speaks the Prometheus HTTP API (Thanos,
Mimir, VictoriaMetrics): only `/api/v1/query`, `/api/v1/query_range` and `/api/v1/alerts`
are used.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any

from console.models import VM, Alert, Host, MetricSample

from . import parse
from .charts import CHART_TEMPLATES, split_target, sum_series
from .client import PromClient, gc_paused
from .queries import Queries, matcher, seconds, window_for
from .results import HostUsage, QueryStats, Series, VMUsage

MAX_POINTS = 1000
"""Most points per chart line; the step grows with the window (Prometheus caps at 11,000)."""


class PrometheusBackend:
    """One Prometheus-API endpoint. Read-only: it has no lifecycle capabilities."""

    kind = "prometheus"

    def __init__(
        self,
        name: str = "prometheus",
        url: str = "http://127.0.0.1:9090",
        *,
        timeout_s: float = 5.0,
        inventory: bool = False,
        queries: Queries | Mapping[str, str] | None = None,
        read_only: bool = True,
        max_workers: int = 4,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.url = url
        self.inventory = inventory
        self.read_only = read_only  # accepted for symmetry with other backends; nothing mutates
        if queries is None:
            queries = Queries()
        elif not isinstance(queries, Queries):
            queries = Queries().with_overrides(**dict(queries))
        self.queries: Queries = queries
        self.client = PromClient(url, timeout_s=timeout_s, name=name, max_workers=max_workers,
                                 headers=headers)

    @classmethod
    def from_source(cls, source: Any, **extra: Any) -> PrometheusBackend:
        """Build from a `backends.prometheus.source.PrometheusSource` (or anything with its fields)."""
        overrides = dict(getattr(source, "queries", None) or {})
        for key in ("host_label", "window"):
            if getattr(source, key, None):
                overrides[key] = getattr(source, key)
        return cls(name=source.name, url=source.url, timeout_s=source.timeout_s,
                   inventory=getattr(source, "inventory", False),
                   queries=overrides or None, **extra)

    @property
    def stats(self) -> QueryStats:
        """HTTP requests, bytes and seconds this backend has spent so far."""
        return self.client.stats

    def _q(self, metric: str, match: str = "", window: str | None = None) -> str:
        return self.queries.build(metric, match=match, window=window)

    async def _off_loop(self, fn: Any, /, **kwargs: Any) -> Any:
        """Run CPU-heavy shaping (100,000 rows) on a thread, not the event loop; the answers
        it was given are let go of there too, a slice at a time (`parse.release`)."""

        def run() -> Any:
            with gc_paused():
                try:
                    return fn(**kwargs)
                finally:
                    parse.release(*(v for v in kwargs.values() if isinstance(v, list | dict)))

        return await asyncio.to_thread(run)

    # -- Backend ----------------------------------------------------------------------------

    async def hosts(self) -> Sequence[Host]:
        """Hypervisors from the libvirt exporters (`host_up`), capacity and CPU use (its rate,
        computed by Prometheus) from node_exporter: five batched queries whatever the fleet
        size. Empty unless `inventory` is on."""
        if not self.inventory:
            return []
        got = await self.client.instant_many({
            "up": self._q("host_up"), "cpus": self._q("host_cpus"),
            "memory": self._q("host_memory"), "available": self._q("host_memory_available"),
            "cpu_used": self._q("host_cpu_used")})
        return await self._off_loop(parse.build_hosts, backend=self.name,
                                    host_label=self.queries.host_label, **got)

    async def vms(self) -> Sequence[VM]:
        """Every domain the libvirt exporters publish, with the CPU cores each uses
        (`vm_cpu_used`: Prometheus' rate, so the sparklines need no cumulative counter): four
        batched queries. Empty unless `inventory` is on. The exporter lists running, paused,
        crashed and suspended domains; shut-off ones are not exported, so they do not appear."""
        if not self.inventory:
            return []
        got = await self.client.instant_many({
            "state": self._q("vm_state"), "vcpus": self._q("vm_vcpus"),
            "memory": self._q("vm_memory"), "cpu_used": self._q("vm_cpu_used")})
        return await self._off_loop(parse.build_vms, backend=self.name,
                                    host_label=self.queries.host_label, **got)

    async def close(self) -> None:
        await self.client.close()

    # -- metrics ----------------------------------------------------------------------------

    async def host_usage(self, *, match: str = "", window: str | None = None
                         ) -> list[HostUsage]:
        """CPU cores and memory used per host, for every host (or those `match` selects)."""
        got = await self.client.instant_many({
            "cpus": self._q("host_cpus", match), "cpu_used": self._q("host_cpu_used", match, window),
            "memory": self._q("host_memory", match),
            "memory_used": self._q("host_memory_used", match)})
        return await self._off_loop(parse.host_usage, host_label=self.queries.host_label, **got)

    async def vm_usage(self, *, match: str = "", window: str | None = None) -> list[VMUsage]:
        """CPU cores and memory used per VM, for every VM (or those `match` selects)."""
        got = await self.client.instant_many({
            "cpu_used": self._q("vm_cpu_used", match, window),
            "memory_used": self._q("vm_memory_used", match)})
        return await self._off_loop(parse.vm_usage, host_label=self.queries.host_label, **got)

    async def range(self, query: str, window_s: float, step: float | None = None, *,
                    vm_id: str | None = None, host: str | None = None,
                    end: float | None = None) -> list[Series]:
        """Chart lines over the last `window_s` seconds, from `query_range`.

        `query` is either a template name (`vm_cpu_used`, `host_memory_used`, …: filtered to
        `vm_id` or `host`, rate window widened to the step) or literal PromQL. `step` defaults
        to the window over `MAX_POINTS`.
        """
        end = time.time() if end is None else end
        step = max(1.0, step or window_s / MAX_POINTS, window_s / 11000)
        if query in Queries.metric_names():
            labels = {"uuid": vm_id} if vm_id else {}
            if host:
                labels[self.queries.host_label] = host
            window = window_for(max(seconds(self.queries.window), 2 * step))
            query = self._q(query, matcher(**labels), window)
        result = await self.client.range(query, end - window_s, end, step)
        return await self._off_loop(parse.series, checked=result,
                                    host_label=self.queries.host_label)

    @property
    def metrics_label(self) -> str:
        """SupportsMetrics: where the figures come from, said on screen."""
        return f"Prometheus at {self.url}"

    async def series(self, target: str, metric: str,
                     window_s: float) -> list[tuple[float, float]]:
        """SupportsMetrics: one chart's points (both directions added for disk and network);
        empty for a chart this source has no template for (e.g. a host's disk)."""
        kind, ident = split_target(target)
        templates = CHART_TEMPLATES.get((kind, metric), ())
        lines = []
        for template in templates:
            found = await self.range(template, window_s, vm_id=ident if kind == "vm" else None,
                                     host=ident if kind == "host" else None)
            if found:
                lines.append(found[0].points)
        return sum_series(lines)

    async def top(self, n: int = 10, metric: str = "vm_cpu_used", *, match: str = "",
                  window: str | None = None) -> list[MetricSample]:
        """The `n` busiest VMs or hosts by a template (`vm_cpu_used`, `host_cpu_used`, …),
        computed by Prometheus (`topk`) in one query, highest first."""
        query = f"topk({int(n)}, {self._q(metric, match, window)})"
        at = time.time()
        vec = await self.client.instant(query, at)
        found = parse.samples(vec, metric=metric, timestamp=at,
                              host_label=self.queries.host_label)
        return sorted(found, key=lambda s: s.value, reverse=True)

    async def alerts(self, *, include_pending: bool = False) -> list[Alert]:
        """Firing alerts (and pending ones if asked) from `/api/v1/alerts`, critical first."""
        def shape(data: Any) -> list[Alert]:
            return parse.alerts(data, source=self.name, host_label=self.queries.host_label,
                                include_pending=include_pending)

        return await self.client.get_data("/api/v1/alerts", shape)

    async def samples(self) -> Sequence[MetricSample]:
        """SupportsMetrics: CPU and memory use of every host and VM as flat samples."""
        at = time.time()
        label = self.queries.host_label
        got = await self.client.instant_many({
            "host_cpu_used": self._q("host_cpu_used"),
            "host_memory_used": self._q("host_memory_used"),
            "vm_cpu_used": self._q("vm_cpu_used"), "vm_memory_used": self._q("vm_memory_used"),
        }, at)

        def flatten() -> list[MetricSample]:
            out: list[MetricSample] = []
            for metric, vec in got.items():
                out += parse.samples(vec, metric=metric, timestamp=at, host_label=label)
            return out

        return await self._off_loop(flatten)
