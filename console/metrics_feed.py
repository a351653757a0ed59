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

CHART_TEMPLATES = {
    ("vm", "cpu"): "vm_cpu_used",
    ("vm", "memory"): "vm_memory_used",
    ("host", "cpu"): "host_cpu_used",
    ("host", "memory"): "host_memory_used",
}


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
        template = CHART_TEMPLATES.get((kind, metric))
        if template is None:
            return FeedResult(error=f"no {metric} chart for {kind}")
        try:
            series = await self.backend.range(
                template, window_s, vm_id=ident if kind == "vm" else None,
                host=ident if kind == "host" else None)
        except NovaError as exc:
            return FeedResult(error=str(exc))
        if not series:
            return FeedResult()
        scale = 1.0 / cpus if metric == "cpu" and cpus else 1.0
        points = tuple(Point(t, v * scale) for t, v in series[0].points)
        return FeedResult(points=points)

    async def alerts(self) -> tuple[list[Alert], str]:
        try:
            return list(await self.backend.alerts()), ""
        except NovaError as exc:
            return [], str(exc)

    async def close(self) -> None:
        await self.backend.close()
