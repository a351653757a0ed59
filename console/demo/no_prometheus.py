"""The demo's metrics source when this machine has no Prometheus: it has no figures, and its
label (shown on the metrics screen as the source) says how to get them."""

from __future__ import annotations

from collections.abc import Sequence

from console.demo.prometheus import INSTALL_ADVICE
from console.models import Alert, MetricSample


class NoPrometheus:
    """A `SupportsMetrics` with nothing to report but the advice."""

    name = "demo-prometheus"
    metrics_label = f"no Prometheus on this machine: {INSTALL_ADVICE}"

    async def samples(self) -> Sequence[MetricSample]:
        return []

    async def series(self, target: str, metric: str,
                     window_s: float) -> Sequence[tuple[float, float]]:
        return []

    async def alerts(self) -> Sequence[Alert]:
        return []
