"""Everything known about one VM, kept live from the fleet snapshot."""

from __future__ import annotations

import time
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from console.actions import registry as actions
from console.actions.registry import VM_CONSOLE
from console.models import VM, FleetSnapshot
from screens.console_screen import ConsoleScreen
from screens.run_action import target_of
from screens.terminal import run_console
from widgets.footer import Footer
from widgets.format import human_bytes, human_duration
from widgets.status_header import StatusHeader


def detail_table(vm: VM, now: float) -> Table:
    """A two-column table of plain `Text` cells: names never pass through markup."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    freshness = f"stale for {human_duration(vm.age_s)}" if vm.stale else "live"
    rows = [
        ("Name", vm.name),
        ("State", f"{vm.state.value} ({freshness})"),
        ("Host", vm.host),
        ("Backend", vm.backend),
        ("ID", vm.id),
        ("vCPUs", str(vm.vcpus)),
        ("Memory", human_bytes(vm.memory_bytes)),
        ("Addresses", ", ".join(vm.addresses) or "-"),
        ("Tags", ", ".join(vm.tags) or "-"),
        ("CPU time", f"{vm.cpu_time_ns / 1e9:.1f} s" if vm.cpu_time_ns else "-"),
    ]
    for disk in vm.disks:
        size = f" ({human_bytes(disk.capacity_bytes)})" if disk.capacity_bytes else ""
        rows.append((f"Disk {disk.target}", f"{disk.source}{size}"))
    for label, value in rows:
        table.add_row(Text(label), Text(value))
    return table


class VMDetailScreen(ConsoleScreen):
    """`enter` on a VM. `esc` goes back."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "app.pop_screen", "Back", id="detail.back"),
        Binding(actions.get(VM_CONSOLE).key, "console", "Console", id="detail.console"),
    ]

    DEFAULT_CSS = """
    VMDetailScreen #detail { padding: 1 2; }
    VMDetailScreen #gone { color: $warning; padding: 0 2; }
    """

    def __init__(self, key: str) -> None:
        super().__init__(name="vm-detail")
        self.key = key

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        with VerticalScroll():
            yield Static(id="detail")
            yield Static(id="gone")
        yield Footer()

    def on_mount(self) -> None:
        self.watch(self.app, "snapshot", self._on_snapshot, init=True)

    def _on_snapshot(self, snapshot: FleetSnapshot | None) -> None:
        if snapshot is None:
            return
        vm = next((v for v in snapshot.vms if v.key == self.key), None)
        gone = self.query_one("#gone", Static)
        if vm is None:
            gone.update(Text("This VM is no longer in the inventory (deleted or moved)."))
            return
        gone.update("")
        self.query_one("#detail", Static).update(detail_table(vm, time.time()))

    def action_console(self) -> None:
        """The VM's serial console (SSH-reached libvirt hosts); ctrl-] comes back."""
        snapshot = getattr(self.app, "snapshot", None)
        vm = next((v for v in snapshot.vms if v.key == self.key), None) if snapshot else None
        if vm is not None:
            self.app.run_worker(run_console(self.app, target_of(vm)), group="actions",
                                name=f"console:{vm.key}")
