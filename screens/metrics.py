"""Live metrics (`4` / `:metrics`): charts for the selected host or VM, top-N, alerts.

Charts come from Prometheus (`query_range` over the chosen window) when the context has one,
else from libvirt stats between polls; the screen always says which, and says so when
Prometheus fails (falling back to libvirt numbers rather than going blank).
"""

from __future__ import annotations

import time
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Label

from console.fleet.metrics_feed import MetricsFeed
from console.fleet.metrics_history import MetricsHistory, Point
from console.models import Alert, FleetSnapshot
from screens.console_app import console_app
from screens.console_screen import ConsoleScreen
from widgets.footer import Footer
from widgets.format import human_bytes, human_duration
from widgets.plot import Plot
from widgets.resource_table import Column, ResourceTable, Row
from widgets.status_header import StatusHeader

WINDOWS = (("15m", 900), ("1h", 3600), ("6h", 21600), ("24h", 86400))
TOP_N = 15
PROMETHEUS_REFRESH_S = 5.0

TARGET_COLUMNS = (
    Column("target", "TARGET", 0, min_width=14),
    Column("cpu", "CPU", 14, bar=True),
    Column("memory", "MEMORY", 10, align="right", drop=1),
)
ALERT_COLUMNS = (
    Column("name", "ALERT", 0, min_width=12),
    Column("severity", "SEVERITY", 9),
    Column("target", "ON", 0, min_width=10),
    Column("since", "SINCE", 6, align="right", drop=1),
)


def alert_row(alert: Alert, now: float) -> Row:
    target = alert.vm_name or alert.host or "-"
    since = human_duration(now - alert.active_since) if alert.active_since else "-"
    return Row(f"{alert.name}/{alert.host}/{alert.vm_id}",
               (alert.name, alert.severity or "-", target, since), status="error")


class MetricsScreen(ConsoleScreen):
    """Hosts first, then the busiest VMs; the charts follow the cursor."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("w", "next_window", "Window", id="metrics.window"),
    ]

    DEFAULT_CSS = """
    MetricsScreen #metrics-body { height: 1fr; }
    MetricsScreen #left { width: 2fr; min-width: 30; }
    MetricsScreen #targets { height: 1fr; }
    MetricsScreen #alerts { height: 7; }
    MetricsScreen #charts { width: 3fr; padding: 0 1; }
    MetricsScreen .chart-title { color: $foreground-muted; height: 1; }
    MetricsScreen Plot { height: 3; margin-bottom: 1; }
    MetricsScreen #metrics-source { height: 1; color: $foreground-muted; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__(name="metrics")
        self.window_index = 0
        self._remote: dict[tuple[str, str, int], tuple[Point, ...]] = {}
        self._remote_error = ""
        self._failing = ""
        """The kind of source whose error `_remote_error` is (said as "AZURE FAILING")."""
        self._alerts: list[Alert] = []

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        with Horizontal(id="metrics-body"):
            with Vertical(id="left"):
                yield ResourceTable(TARGET_COLUMNS, id="targets")
                yield ResourceTable(ALERT_COLUMNS, id="alerts")
            with VerticalScroll(id="charts"):
                yield Label("", id="chart-target")
                yield Label("CPU", classes="chart-title", id="cpu-title")
                yield Plot(low=0.0, high=1.0, id="cpu-chart")
                yield Label("Memory", classes="chart-title", id="mem-title")
                yield Plot(low=0.0, high=None, id="mem-chart")
                yield Label("Disk I/O", classes="chart-title", id="disk-title")
                yield Plot(low=0.0, high=None, id="disk-chart")
                yield Label("Network I/O", classes="chart-title", id="net-title")
                yield Plot(low=0.0, high=None, id="net-chart")
        yield Label("", id="metrics-source")
        yield Footer()

    def on_mount(self) -> None:
        self.watch(self.app, "snapshot", self._on_snapshot, init=True)
        if self.feed is not None:
            self.set_interval(PROMETHEUS_REFRESH_S, self._fetch)
            self._fetch()

    @property
    def history(self) -> MetricsHistory:
        return console_app(self.app).metrics

    @property
    def feed(self) -> MetricsFeed | None:
        return console_app(self.app).metrics_feed

    @property
    def table(self) -> ResourceTable:
        return self.query_one("#targets", ResourceTable)

    @property
    def window_s(self) -> int:
        return WINDOWS[self.window_index][1]

    # -- data -------------------------------------------------------------------------------

    def _on_snapshot(self, snapshot: FleetSnapshot | None) -> None:
        if snapshot is None:
            return
        rows = [self._row(f"host:{h.name}", h.name, h.stale) for h in snapshot.hosts]
        by_target = {f"vm:{v.key}": v for v in snapshot.vms}
        for target, _cpu in self.history.top("cpu", "vm:", TOP_N):
            vm = by_target.get(target)
            if vm is not None:
                rows.append(self._row(target, f"  {vm.name}", vm.stale))
        self.table.set_rows(rows)
        self._draw()

    def _row(self, target: str, label: str, stale: bool) -> Row:
        cpu = self.history.series(target, "cpu").last()
        mem = self.history.series(target, "memory").last()
        return Row(target, (label, "" if cpu is None else f"{cpu:.4f}",
                            "-" if mem is None else human_bytes(mem)), stale=stale)

    def _cpus(self, target: str) -> int:
        snapshot = console_app(self.app).snapshot
        if snapshot is None:
            return 0
        kind, _, rest = target.partition(":")
        if kind == "host":
            return next((h.cpus for h in snapshot.hosts if h.name == rest), 0)
        return next((v.vcpus for v in snapshot.vms if v.key == rest), 0)

    @work(exclusive=True, group="prometheus")
    async def _fetch(self) -> None:
        """Ask Prometheus for the selected target's charts and for firing alerts."""
        feed, target = self.feed, self.table.cursor_key
        if feed is None:
            return
        errors: list[tuple[str, str]] = []  # (kind of source, what it said)
        if target is not None:
            for metric in ("cpu", "memory", "disk", "net"):
                result = await feed.chart(target, metric, self.window_s, cpus=self._cpus(target))
                if result.error:
                    errors.append((feed.kind_of(target), result.error))
                else:
                    self._remote[(target, metric, self.window_s)] = result.points
        alerts, alert_error = await feed.alerts()
        if alert_error:
            errors.append((feed.kind_of(""), alert_error))
        else:
            self._alerts = alerts
        self._failing, self._remote_error = errors[0] if errors else ("", "")
        self._draw()

    # -- drawing ----------------------------------------------------------------------------

    def _points(self, target: str, metric: str) -> tuple[tuple[Point, ...], str]:
        """The metrics source's points when we have them, else the polled history; and the
        source."""
        remote = self._remote.get((target, metric, self.window_s))
        if remote and self.feed is not None:
            return remote, self.feed.kind_of(target)
        local = self.history.series(target, metric).window(self.window_s, time.time())
        return tuple(local), "libvirt"

    def _draw(self) -> None:
        self._draw_source()
        now = time.time()
        self.query_one("#alerts", ResourceTable).set_rows([alert_row(a, now) for a in self._alerts])
        target = self.table.cursor_key
        if target is None:
            return
        cpu, cpu_source = self._points(target, "cpu")
        mem, mem_source = self._points(target, "memory")
        self.query_one("#chart-target", Label).update(Text(target, style="bold"))
        cpu_text = (f"CPU  now {cpu[-1].value * 100:.0f}%  ({cpu_source})" if cpu
                    else "CPU  no data from this source")
        mem_text = (f"Memory  now {human_bytes(mem[-1].value)}  ({mem_source})" if mem
                    else "Memory  no data")
        self.query_one("#cpu-title", Label).update(Text(cpu_text))
        self.query_one("#mem-title", Label).update(Text(mem_text))
        self.query_one("#cpu-chart", Plot).data = tuple(p.value for p in cpu)
        self.query_one("#mem-chart", Plot).data = tuple(p.value for p in mem)
        for metric, label in (("disk", "Disk I/O"), ("net", "Network I/O")):
            points, _source = self._points(target, metric)
            now_text = f"now {human_bytes(points[-1].value)}/s" if points else (
                "no data (Prometheus only)" if self.feed is None else "no data")
            self.query_one(f"#{metric}-title", Label).update(Text(f"{label}  {now_text}"))
            self.query_one(f"#{metric}-chart", Plot).data = tuple(p.value for p in points)

    def _draw_source(self) -> None:
        window_name, _ = WINDOWS[self.window_index]
        source = self.feed.label if self.feed is not None else self.history.source
        text = Text(f"source: {source}  window: {window_name}  (w: change window)")
        failing, error = self._failing, self._remote_error
        if not error and self.feed is not None:  # the fleet's CPU figures (trends) failing
            failing, error = self.feed.kind_of(""), console_app(self.app).usage_error
        if error:
            fallback = " (showing libvirt stats)" if failing == "prometheus" else ""
            text.append(f"  {failing.upper()} FAILING: {error}{fallback}", style="bold")
        self.query_one("#metrics-source", Label).update(text)

    @on(ResourceTable.RowHighlighted, "#targets")
    def _follow_cursor(self) -> None:
        self._draw()
        if self.feed is not None:
            self._fetch()

    def action_next_window(self) -> None:
        self.window_index = (self.window_index + 1) % len(WINDOWS)
        self._draw()
        if self.feed is not None:
            self._fetch()
