"""The Textual application: composes screens, runs the fleet, holds the latest snapshot.

It only wires things together: polling lives in `console.fleet`, drawing in `screens/` and
`widgets/`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen

from console.fleet import Fleet
from console.metrics import MetricsHistory
from console.models import FleetSnapshot
from screens.help import HelpScreen
from screens.hosts import HostsScreen
from screens.inventory import InventoryScreen
from screens.metrics import MetricsScreen
from screens.palette import FleetCommands
from themes import DEFAULT_STATUS, DEFAULT_THEME, THEMES
from widgets.status_header import HeaderState, SourceStatus


@dataclass
class FleetUpdated(Message):
    """A new snapshot from the fleet; a newer one replaces an unprocessed older one."""

    snapshot: FleetSnapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, FleetUpdated)


class NovaApp(App[None]):
    """NovaCron Console."""

    TITLE = "NovaCron"
    COMMANDS = App.COMMANDS | {FleetCommands}
    ENABLE_COMMAND_PALETTE = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("1", "switch_mode('inventory')", "Inventory", show=False, id="app.inventory"),
        Binding("2", "switch_mode('hosts')", "Hosts", show=False, id="app.hosts"),
        Binding("4", "switch_mode('metrics')", "Metrics", show=False, id="app.metrics"),
    ]
    MODES: ClassVar[dict[str, type[Screen[None]]]] = {
        "inventory": InventoryScreen,
        "hosts": HostsScreen,
        "metrics": MetricsScreen,
    }

    snapshot: reactive[FleetSnapshot | None] = reactive(None, always_update=True)
    """The latest fleet snapshot; screens watch it."""

    header_state: reactive[HeaderState] = reactive(HeaderState, always_update=True)
    """What every screen's header shows."""

    def __init__(
        self,
        fleet: Fleet,
        *,
        read_only: bool = False,
        production: bool = False,
        theme: str | None = None,
        keymap: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.fleet = fleet
        self.read_only = read_only
        self.production = production
        self._theme_name = theme or DEFAULT_THEME
        self._keymap = keymap or {}
        self.metrics = MetricsHistory()

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(DEFAULT_STATUS)

    async def on_mount(self) -> None:
        for theme in THEMES:
            self.register_theme(theme)
        self.theme = self._theme_name
        if self._keymap:
            self.set_keymap(self._keymap)
        self.fleet_snapshot(self.fleet.snapshot)
        await self.switch_mode("inventory")
        self.fleet._on_snapshot = self.fleet_snapshot
        await self.fleet.start()

    async def on_unmount(self) -> None:
        await self.fleet.stop()

    def fleet_snapshot(self, snapshot: FleetSnapshot) -> None:
        """Called by the fleet (same loop) with every new snapshot."""
        self.post_message(FleetUpdated(snapshot))

    def on_fleet_updated(self, message: FleetUpdated) -> None:
        snap = message.snapshot
        self.metrics.ingest(snap)
        self.snapshot = snap
        self.header_state = HeaderState(
            context=snap.context,
            read_only=self.read_only,
            production=self.production,
            polled_at=max((h.last_success or 0 for h in snap.health), default=None) or None,
            sources=tuple(SourceStatus(h.name, h.ok, h.last_success, h.error) for h in snap.health),
            vm_count=len(snap.vms),
            host_count=len(snap.hosts),
        )

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.screen))
