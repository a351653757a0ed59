"""Charts, top-N and alerts from a Prometheus-API backend, in the shapes the screens draw.

The screen asks for "the CPU of vm:<backend>/<uuid> over 1 h" and gets points; this module
knows which template and which labels that means. Errors are kept as text so the screen can
say "Prometheus unreachable: …" and fall back to libvirt stats instead of going blank.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from console.errors import NovaError
from console.metrics import Point
from console.models import Alert

CHART_TEMPLATES: dict[tuple[str, str], tuple[str, ...]] = {
    ("vm", "cpu"): ("vm_cpu_used",),
    ("vm", "memory"): ("vm_memory_used",),
    ("vm", "disk"): ("vm_disk_read", "vm_disk_write"),
    ("vm", "net"): ("vm_net_rx", "vm_net_tx"),
    ("host", "cpu"): ("host_cpu_used",),
    ("host", "memory"): ("host_memory_used",),
}
"""The templates whose sum makes each chart (disk and network: both directions)."""


def sum_series(lines: list[tuple[tuple[float, float], ...]]) -> tuple[Point, ...]:
    """Add series point by point on their shared timestamps (range queries align them)."""
    totals: dict[float, float] = {}
    for points in lines:
        for t, v in points:
            totals[t] = totals.get(t, 0.0) + v
    return tuple(Point(t, v) for t, v in sorted(totals.items()))


@dataclass(frozen=True, slots=True)
class FeedResult:
    points: tuple[Point, ...] = ()
    error: str = ""


def split_target(target: str) -> tuple[str, str]:
    """"vm:<backend>/<uuid>" → ("vm", uuid); "host:<name>" → ("host", name)."""
    kind, _, rest = target.partition(":")
    if kind == "vm":
        return kind, rest.rpartition("/")[2]
    return kind, rest


class PrometheusFeed:
    """Wraps a `backends.prometheus.PrometheusBackend` (typed loosely: core stays UI-free and
    the backend stays optional)."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.label = f"Prometheus at {backend.url}"

    async def chart(self, target: str, metric: str, window_s: float,
                    cpus: int = 0) -> FeedResult:
        """Points for one target; CPU is a fraction of `cpus` when given (cores otherwise)."""
        kind, ident = split_target(target)
        templates = CHART_TEMPLATES.get((kind, metric))
        if templates is None:
            return FeedResult()  # e.g. no host disk chart: nothing to draw, nothing wrong
        lines = []
        try:
            for template in templates:
                series = await self.backend.range(
                    template, window_s, vm_id=ident if kind == "vm" else None,
                    host=ident if kind == "host" else None)
                if series:
                    lines.append(series[0].points)
        except NovaError as exc:
            return FeedResult(error=str(exc))
        scale = 1.0 / cpus if metric == "cpu" and cpus else 1.0
        return FeedResult(points=tuple(Point(p.t, p.value * scale) for p in sum_series(lines)))

    async def alerts(self) -> tuple[list[Alert], str]:
        try:
            return list(await self.backend.alerts()), ""
        except NovaError as exc:
            return [], str(exc)

    async def close(self) -> None:
        await self.backend.close()
