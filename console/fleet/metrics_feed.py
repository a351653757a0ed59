"""Charts and alerts from the context's metrics sources, in the shapes the screens draw.

Any backend that is `SupportsMetrics` (Prometheus, CloudWatch, Azure Monitor, vSphere's
PerformanceManager) can feed the metrics screen. A VM's chart is asked of the source that
lists it when that source serves metrics (a cloud's own monitoring), else of the first general
source (Prometheus); a host's chart of the first source that has one. Errors are kept as text
so the screen can say "Prometheus unreachable: …" instead of going blank.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from backends.base import SupportsMetrics
from console.errors import NovaError
from console.fleet.metrics_history import Point
from console.models import Alert, MetricSample


@dataclass(frozen=True, slots=True)
class FeedResult:
    points: tuple[Point, ...] = ()
    error: str = ""


def owner(target: str) -> str:
    """The backend name in "vm:<backend>/<id>" ("" for a host target)."""
    kind, _, rest = target.partition(":")
    return rest.rpartition("/")[0] if kind == "vm" else ""


class MetricsFeed:
    """The metrics sources of one context, asked in order."""

    def __init__(self, sources: Sequence[SupportsMetrics]) -> None:
        self.sources = list(sources)

    @property
    def label(self) -> str:
        """Where the figures come from, as each source says it now (CloudWatch counts its
        billed calls in it)."""
        return "; ".join(s.metrics_label for s in self.sources)

    def _for(self, target: str) -> SupportsMetrics:
        by_name = {getattr(s, "name", ""): s for s in self.sources}
        return by_name.get(owner(target)) or self.sources[0]

    def kind_of(self, target: str) -> str:
        """The kind of source that charts `target` ("azure", "prometheus"…), said on screen."""
        return str(getattr(self._for(target), "kind", "metrics"))

    async def chart(self, target: str, metric: str, window_s: float,
                    cpus: int = 0) -> FeedResult:
        """Points for one target; CPU is a fraction of `cpus` when given (cores otherwise)."""
        try:
            points = await self._for(target).series(target, metric, window_s)
        except NovaError as exc:
            return FeedResult(error=str(exc))
        scale = 1.0 / cpus if metric == "cpu" and cpus else 1.0
        return FeedResult(points=tuple(Point(t, v * scale) for t, v in points))

    async def alerts(self) -> tuple[list[Alert], str]:
        """Every source's firing alerts, and the errors of those that did not answer."""
        found: list[Alert] = []
        errors: list[str] = []
        for source in self.sources:
            try:
                found += await source.alerts()
            except NovaError as exc:
                errors.append(str(exc))
        return found, "; ".join(errors)

    async def samples(self) -> tuple[list[MetricSample], str]:
        """Every source's current usage figures (see `console.fleet.usage`), and the errors
        of those that did not answer."""
        found: list[MetricSample] = []
        errors: list[str] = []
        for source in self.sources:
            try:
                found += await source.samples()
            except NovaError as exc:
                errors.append(str(exc))
        return found, "; ".join(errors)

    async def close(self) -> None:
        for source in self.sources:
            close = getattr(source, "close", None)
            if close is not None:
                await close()
