"""Host capacity (`2` / `:hosts`): allocation vs capacity vs use, overcommit and headroom."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Label

from backends.base import SupportsQuotas
from console.actions import registry as actions
from console.actions.registry import ACCEPT_HOST_KEY, HOST_SHELL
from console.fleet.capacity import (
    HostCapacity,
    host_capacity,
    host_capacity_steps,
    reports_capacity,
)
from console.models import FleetSnapshot, Host
from screens.console_screen import ConsoleScreen
from screens.drain_dialog import open_drain_dialog
from screens.host_keys import accept_host_key
from screens.inventory import InventoryScreen
from screens.rows import HOST_COLUMNS, host_detail, host_key_trouble, host_row
from screens.terminal import run_shell
from widgets.footer import Footer
from widgets.format import sparkline
from widgets.resource_table import ResourceTable
from widgets.status_header import StatusHeader

SORTS = {
    "name": lambda c: (c.host.cluster.lower(), c.host.name.lower()),  # a cluster's hosts together
    "vms": lambda c: c.vm_count,
    "overcommit": lambda c: c.overcommit or 0.0,
    "memory": lambda c: c.memory_ratio or 0.0,
    "cpu_used": lambda c: c.host.cpu_usage or 0.0,
    "headroom": lambda c: c.memory_headroom,
}
SORT_ORDER = tuple(SORTS)
QUOTAS_REFRESH_S = 60.0
"""How often the regional quota lines (clouds: EC2's vCPU quota) are asked for again."""
CAPACITY_STEP = 500
"""VMs summed per step of a large fleet's capacity (a key is served between steps); a
fleet this size or smaller is summed at once, as its snapshot arrives."""


class HostsScreen(ConsoleScreen):
    """One row per host; `enter` lists that host's VMs in the inventory."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "sort_next", "Sort", id="hosts.sort"),
        Binding("S", "sort_reverse", "Reverse", id="hosts.sort_reverse"),
        Binding("D", "drain", "Drain", id="hosts.drain"),
        Binding(actions.get(HOST_SHELL).key, "shell", "Shell", id=HOST_SHELL),
        Binding(actions.get(ACCEPT_HOST_KEY).key, "accept_key", "Accept key", show=False,
                id=ACCEPT_HOST_KEY),  # said on the detail line of a host whose key is unknown
    ]

    DEFAULT_CSS = """
    HostsScreen #host-summary { height: 1; color: $foreground-muted; padding: 0 1; }
    HostsScreen #host-quotas { height: auto; max-height: 4; color: $foreground-muted;
                               padding: 0 1; display: none; }
    HostsScreen #host-detail { width: 100%; height: auto; max-height: 4; padding: 0 1;
                               display: none; }
    """

    def __init__(self) -> None:
        super().__init__(name="hosts")
        self.sort_column = "name"
        self.sort_reverse = False
        self._capacity: list[HostCapacity] = []
        self._quotas_asked = False
        self._pending: FleetSnapshot | None = None
        self._summing = False

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        yield ResourceTable(HOST_COLUMNS, id="hosts")
        yield Label("", id="host-detail", markup=False)
        yield Label("", id="host-summary")
        yield Label("", id="host-quotas", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.watch(self.app, "snapshot", self._on_snapshot, init=True)
        self.set_interval(QUOTAS_REFRESH_S, self._fetch_quotas)

    @work(exclusive=True, group="quotas")
    async def _fetch_quotas(self) -> None:
        """Per region of a cloud source: vCPUs running against the account's quota, or "?"
        and why (the zones themselves have no capacity of their own)."""
        fleet = getattr(self.app, "fleet", None)
        lines: list[str] = []
        for name, backend in (fleet.backends.items() if fleet is not None else ()):
            if isinstance(backend, SupportsQuotas):
                try:
                    lines += [f"{name} quota: {line}" for line in await backend.quotas()]
                except Exception as exc:  # a quota we cannot read is said, never guessed
                    lines.append(f"{name} quota: ? ({exc})")
        label = self.query_one("#host-quotas", Label)
        label.update("\n".join(lines))
        label.display = bool(lines)

    @property
    def table(self) -> ResourceTable:
        return self.query_one("#hosts", ResourceTable)

    def _on_snapshot(self, snapshot: FleetSnapshot | None) -> None:
        """A small fleet is summed at once. A large one (100k VMs) is summed in steps by a
        worker, and only while this screen is shown: hidden, it keeps the newest snapshot
        for when it is shown again (it then shows the last figures until the sum is done)."""
        if snapshot is None:
            return
        self._ask_quotas(snapshot)
        if len(snapshot.vms) <= CAPACITY_STEP and not self._summing:
            self._pending = None
            self._capacity = host_capacity(snapshot)
            self._redraw()
            return
        self._pending = snapshot
        if self.is_current:
            self._sum_pending()

    def on_screen_resume(self) -> None:
        if self._pending is not None:
            self._sum_pending()

    def _sum_pending(self) -> None:
        if not self._summing:
            self._summing = True
            self.run_worker(self._sum_in_steps(), group="hosts-capacity")

    async def _sum_in_steps(self) -> None:
        try:
            while self._pending is not None:
                snapshot, self._pending = self._pending, None
                steps = host_capacity_steps(snapshot, CAPACITY_STEP)
                while True:
                    try:
                        next(steps)
                    except StopIteration as done:
                        self._capacity = done.value
                        break
                    await asyncio.sleep(0)
                if not self.query("#hosts"):
                    return  # the app is closing: the screen's widgets are gone
                self._redraw()
        finally:
            self._summing = False

    def _ask_quotas(self, snapshot: FleetSnapshot) -> None:
        fleet = getattr(self.app, "fleet", None)
        with_quotas = {name for name, b in (fleet.backends.items() if fleet else ())
                       if isinstance(b, SupportsQuotas)}
        if not self._quotas_asked and any(h.backend in with_quotas for h in snapshot.hosts):
            self._quotas_asked = True  # its first inventory is in: ask now, not a minute later
            self._fetch_quotas()

    def _redraw(self) -> None:
        caps = sorted(self._capacity, key=SORTS[self.sort_column], reverse=self.sort_reverse)
        table = self.table
        sort = ({"memory": "mem_bar"}.get(self.sort_column, self.sort_column), self.sort_reverse)
        same_sort = (table.sort_column, table.sort_reverse) == sort
        table.sort_column, table.sort_reverse = sort
        history = getattr(self.app, "metrics", None)
        ascii_only = getattr(self.app, "ascii", False)
        rows = [host_row(c, sparkline(history.tail(f"host:{c.host.name}", "cpu", 8),
                                      ascii_only=ascii_only) if history else "")
                for c in caps]
        if same_sort and table.row_keys() == [row.key for row in rows]:
            table.update_rows(rows)  # same hosts, same order: redraw only changed lines
        else:
            table.set_rows(rows)
        hardware = [c for c in caps if reports_capacity(c.host)]
        zones = len(caps) - len(hardware)  # cloud regions/zones: their quota is listed below
        cpus = sum(c.host.cpus for c in hardware)
        vcpus = sum(c.vcpus_allocated for c in hardware)
        down = sum(1 for c in caps if c.host.stale)
        refused = sum(1 for c in caps if host_key_trouble(c.host))
        text = f"{len(hardware)} hosts  {vcpus}/{cpus} vCPU allocated" if hardware else ""
        if zones:
            text += f"{'  ' if text else ''}{zones} cloud zone{'s' * (zones != 1)}"
        if down:
            text += f"  {down} stale or down"
        if refused:
            text += f"  {refused} refused for their host key"
        text += f"  sort: {self.sort_column}{' (reversed)' if self.sort_reverse else ''}"
        summary = self.query_one("#host-summary", Label)
        if str(summary.content) != text:
            summary.update(text)
        self._show_detail()

    def _show_detail(self) -> None:
        """The selected host's error (a refused host key says which, with fingerprints), or
        its /proc figures; the line is hidden when there is nothing to say."""
        key = self.table.cursor_key
        host = next((c.host for c in self._capacity
                     if f"{c.host.backend}/{c.host.name}" == key), None)
        text = host_detail(host) if host is not None else ""
        if host is not None and host_key_trouble(host) == "host key unknown":
            text += f"  [{actions.get(ACCEPT_HOST_KEY).key}: check and accept this key]"
        detail = self.query_one("#host-detail", Label)
        if str(detail.content) != text:
            detail.update(text)
        detail.display = bool(text)

    @on(ResourceTable.RowHighlighted, "#hosts")
    def _highlighted(self, _event: ResourceTable.RowHighlighted) -> None:
        self._show_detail()

    def action_sort_next(self) -> None:
        self.sort_column = SORT_ORDER[(SORT_ORDER.index(self.sort_column) + 1) % len(SORT_ORDER)]
        self.sort_reverse = False
        self._redraw()

    def selected(self) -> Host | None:
        key = self.table.cursor_key
        return next((c.host for c in self._capacity
                     if f"{c.host.backend}/{c.host.name}" == key), None)

    def action_drain(self) -> None:
        """Live-migrate every running VM off the selected host (a dialog plans and confirms;
        the dispatcher refuses it in read-only mode)."""
        host = self.selected()
        if host is not None:
            open_drain_dialog(self.app, host.name)

    def action_accept_key(self) -> None:
        """Trust the selected host's unknown SSH host key, once its fingerprint was seen and
        the alias typed (a changed key is refused, with what to run instead)."""
        host = self.selected()
        if host is not None:
            self.app.run_worker(accept_host_key(self.app, host), group="actions",
                                name=f"accept_key:{host.name}")

    def action_shell(self) -> None:
        """A shell on the selected host over its SSH link; the console comes back on exit."""
        host = self.selected()
        if host is not None:
            self.app.run_worker(run_shell(self.app, host.backend, host.name), group="actions",
                                name=f"shell:{host.name}")

    def action_sort_reverse(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self._redraw()

    @on(ResourceTable.RowSelected, "#hosts")
    async def _show_vms(self, event: ResourceTable.RowSelected) -> None:
        host = next((c.host for c in self._capacity
                     if f"{c.host.backend}/{c.host.name}" == event.key), None)
        if host is None:
            return
        await self.app.switch_mode("inventory")
        screen = self.app.screen
        if isinstance(screen, InventoryScreen):
            screen.show_filter(f"host:{host.name}")
