"""Live metrics (`4` / `:metrics`): charts for the selected host or VM, top-N, alerts.

The screen shows where its numbers come from (Prometheus, or libvirt stats between polls),
so nobody mistakes a gap in one source for an idle machine.
"""

from __future__ import annotations

import time
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Label

from console.metrics import MetricsHistory
from console.models import FleetSnapshot
from widgets.format import human_bytes
from widgets.plot import Plot
from widgets.resource_table import Column, ResourceTable, Row
from widgets.status_header import StatusHeader

WINDOWS = (("15m", 900), ("1h", 3600), ("6h", 21600), ("24h", 86400))
TOP_N = 15

TARGET_COLUMNS = (
    Column("target", "TARGET", 0, min_width=14),
    Column("cpu", "CPU", 14, bar=True),
    Column("memory", "MEMORY", 10, align="right", drop=1),
)


class MetricsScreen(Screen[None]):
    """Hosts first, then the busiest VMs; the charts follow the cursor."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("w", "next_window", "Window", id="metrics.window"),
    ]

    DEFAULT_CSS = """
    MetricsScreen #metrics-body { height: 1fr; }
    MetricsScreen #targets { width: 2fr; min-width: 30; }
    MetricsScreen #charts { width: 3fr; padding: 0 1; }
    MetricsScreen .chart-title { color: $foreground-muted; height: 1; }
    MetricsScreen Plot { height: 4; margin-bottom: 1; }
    MetricsScreen #metrics-source { height: 1; color: $foreground-muted; padding: 0 1; }
    MetricsScreen #alerts { height: auto; max-height: 6; color: $error; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__(name="metrics")
        self.window_index = 0

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        with Horizontal(id="metrics-body"):
            yield ResourceTable(TARGET_COLUMNS, id="targets")
            with Vertical(id="charts"):
                yield Label("", id="chart-target")
                yield Label("CPU", classes="chart-title", id="cpu-title")
                yield Plot(low=0.0, high=1.0, id="cpu-chart")
                yield Label("Memory", classes="chart-title", id="mem-title")
                yield Plot(low=0.0, high=None, id="mem-chart")
                yield Label("", id="alerts")
        yield Label("", id="metrics-source")
        yield Footer()

    def on_mount(self) -> None:
        self.watch(self.app, "snapshot", self._on_snapshot, init=True)

    @property
    def history(self) -> MetricsHistory:
        return self.app.metrics  # type: ignore[attr-defined, no-any-return]

    @property
    def table(self) -> ResourceTable:
        return self.query_one("#targets", ResourceTable)

    def _on_snapshot(self, snapshot: FleetSnapshot | None) -> None:
        if snapshot is None:
            return
        history = self.history
        rows = []
        for host in snapshot.hosts:
            rows.append(self._row(f"host:{host.name}", host.name, host.stale))
        for target, _cpu in history.top("cpu", "vm:", TOP_N):
            vm = next((v for v in snapshot.vms if f"vm:{v.key}" == target), None)
            if vm is not None:
                rows.append(self._row(target, f"  {vm.name}", vm.stale))
        self.table.set_rows(rows)
        window_name, _ = WINDOWS[self.window_index]
        self.query_one("#metrics-source", Label).update(
            Text(f"source: {history.source}  window: {window_name}  (w: change window)"))
        self._draw_charts()

    def _row(self, target: str, label: str, stale: bool) -> Row:
        cpu = self.history.series(target, "cpu").last()
        mem = self.history.series(target, "memory").last()
        return Row(target, (label, "" if cpu is None else f"{cpu:.4f}",
                            "-" if mem is None else human_bytes(mem)), stale=stale)

    def _draw_charts(self) -> None:
        target = self.table.cursor_key
        if target is None:
            return
        _name, seconds = WINDOWS[self.window_index]
        now = time.time()
        cpu = self.history.series(target, "cpu").window(seconds, now)
        mem = self.history.series(target, "memory").window(seconds, now)
        self.query_one("#chart-target", Label).update(Text(target, style="bold"))
        cpu_text = f"CPU  now {cpu[-1].value * 100:.0f}%" if cpu else "CPU  no data from this source"
        mem_text = f"Memory  now {human_bytes(mem[-1].value)}" if mem else "Memory  no data"
        self.query_one("#cpu-title", Label).update(Text(cpu_text))
        self.query_one("#mem-title", Label).update(Text(mem_text))
        self.query_one("#cpu-chart", Plot).data = tuple(p.value for p in cpu)
        self.query_one("#mem-chart", Plot).data = tuple(p.value for p in mem)

    @on(ResourceTable.RowHighlighted, "#targets")
    def _follow_cursor(self) -> None:
        self._draw_charts()

    def action_next_window(self) -> None:
        self.window_index = (self.window_index + 1) % len(WINDOWS)
        self._on_snapshot(self.app.snapshot)  # type: ignore[attr-defined]
