"""The Textual application: composes screens, runs the fleet, holds the latest snapshot.

It only wires things together: polling lives in `console.fleet.polling`, drawing in `screens/` and
`widgets/`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.command import CommandPalette
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen

from console import gil, heap
from console.actions.dispatcher import Dispatcher, Target, UnavailableAudit
from console.actions.operations import OperationsFeed
from console.actions.registry import GROW_DISK, ActionSpec
from console.config import Context
from console.fleet.last_known import SnapshotKeeper
from console.fleet.metrics_feed import MetricsFeed
from console.fleet.metrics_history import MetricsHistory
from console.fleet.polling import Fleet
from console.fleet.usage import with_usage
from console.migration.tracker import MigrationTracker
from console.models import Alert, FleetSnapshot, MetricSample
from console.store import Activity, Store
from screens.action_palette import ActionCommands
from screens.activity import ActivityScreen
from screens.audit import AuditScreen
from screens.command_line import CommandLineScreen, execute
from screens.copy import vm_copy_text
from screens.help import HelpScreen
from screens.hosts import HostsScreen
from screens.inventory import InventoryScreen
from screens.lab_dialog import LabCommands, LabFactory, default_lab
from screens.metrics import MetricsScreen
from screens.migrate_dialog import open_migrate_dialog
from screens.migration_commands import MigrationCommands
from screens.migrations import MigrationsScreen, recover_migrations, resume_operations
from screens.new_vm import open_new_vm_dialog
from screens.palette import FleetCommands
from screens.resize_dialog import open_resize_dialog
from screens.snapshots import SnapshotsScreen
from screens.terminal import run_console
from themes import CSS_PATH as THEME_CSS
from themes import DEFAULT_STATUS, THEMES, ThemeCommands, resolve_theme
from widgets.resource_table import ResourceTable
from widgets.status_header import HeaderState, SourceStatus
from widgets.tile import Tile

ALERTS_REFRESH_S = 10.0
EARLY_ALERTS_S = 20.0
"""For this long after start, alerts are asked every second until some fire: a Prometheus
that has just started (the demo's) evaluates its rules a few seconds in, and an operator
should not wait a whole refresh for them."""
ACTIVITY_KEEP = 500
"""Events of the activity feed kept for the Activity screen."""
ACTIVITY_RETRY_S = 5.0
"""Wait before following the feed again after the store's channel was lost."""

log = logging.getLogger(__name__)
INGEST_STEP = 500
"""VMs recorded per step of a large snapshot's metrics (1-3 ms each: a key needs several
turns of the event loop, each behind one step)."""


@dataclass
class FleetUpdated(Message):
    """A new snapshot from the fleet; a newer one replaces an unprocessed older one."""

    snapshot: FleetSnapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, FleetUpdated)


class NovaApp(App[str | None]):
    """NovaCron Console. Its return value is the context to open next (the lab dialog's
    "Open the lab context"), or None to quit."""

    TITLE = "NovaCron"
    CSS_PATH = THEME_CSS
    COMMANDS = App.COMMANDS | {FleetCommands, ActionCommands, MigrationCommands, LabCommands}
    ENABLE_COMMAND_PALETTE = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("1", "switch_mode('inventory')", "Inventory", show=False, id="app.inventory"),
        Binding("2", "switch_mode('hosts')", "Hosts", show=False, id="app.hosts"),
        Binding("3", "switch_mode('migrations')", "Migrations", show=False, id="app.migrations"),
        Binding("4", "switch_mode('metrics')", "Metrics", show=False, id="app.metrics"),
        Binding("5", "switch_mode('audit')", "Audit", show=False, id="app.audit"),
        Binding("colon", "command_line", "Command", show=False, id="app.command_line"),
        Binding("y", "copy_vm('name')", "Copy name", show=False, id="app.copy_name"),
        Binding("Y", "copy_vm('id')", "Copy ID", show=False, id="app.copy_id"),
        Binding("ctrl+y", "copy_vm('address')", "Copy IP", show=False, id="app.copy_address"),
    ]
    MODES: ClassVar[dict[str, str | Callable[[], Screen[Any]]]] = {
        "inventory": InventoryScreen,
        "hosts": HostsScreen,
        "migrations": MigrationsScreen,
        "metrics": MetricsScreen,
        "audit": AuditScreen,
        "activity": ActivityScreen,
    }

    snapshot: reactive[FleetSnapshot | None] = reactive(None, always_update=True, repaint=False)
    """The latest fleet snapshot; screens watch it."""

    header_state: reactive[HeaderState] = reactive(HeaderState, always_update=True, repaint=False)
    """What every screen's header shows."""

    def __init__(
        self,
        fleet: Fleet,
        *,
        read_only: bool = False,
        production: bool = False,
        theme: str | None = None,
        keymap: dict[str, str] | None = None,
        ascii: bool = False,
        dispatcher: Dispatcher | None = None,
        metrics_feed: MetricsFeed | None = None,
        context_config: Context | None = None,
        store: str | None = None,
    ) -> None:
        super().__init__()
        self.context_config = context_config
        """The context's settings (templates, overcommit, spread_by) for the New VM form."""
        self.store_location = store
        """The context's `store` (a file or a libpq URL; None: the default file)."""
        self.metrics_feed = metrics_feed
        """Prometheus charts and alerts, when the context has a Prometheus source."""
        self.alerts: list[Alert] | None = None
        """Firing alerts from the metrics feed (None: the context has no alert source)."""
        self._usage: list[MetricSample] = []
        """The metrics feed's latest usage figures, filled into each snapshot (`fleet.usage`)."""
        self.usage_error = ""
        """Why the metrics feed's last usage figures could not be had ("" when they were)."""
        self.dispatcher = dispatcher
        """The one door to mutating calls; opened with the store at mount unless given."""
        self.store: Store | None = None
        """The audit store (None until opened, or when it could not be: actions refused)."""
        self.operations = OperationsFeed(fleet.backends)
        """Long-running operations (Azure's) of this context's backends, shown on the board."""
        self.migrations: MigrationTracker | None = None
        """The migration tracker, made by the board on first use (`screens.migrations`)."""
        self._keeper: SnapshotKeeper | None = None
        ResourceTable.GLYPHS = ResourceTable.ASCII_GLYPHS if ascii else ResourceTable.UNICODE_GLYPHS
        Tile.ASCII = ascii
        self.ascii = ascii
        self.fleet = fleet
        self.lab_factory: LabFactory = default_lab
        """The lab the palette starts and stops (tests give one of their own)."""
        self.read_only = read_only
        self.production = production
        self._theme_name = resolve_theme(theme)
        self._keymap = keymap or {}
        self.metrics = MetricsHistory()
        self.activity: deque[tuple[str, Activity]] = deque(maxlen=ACTIVITY_KEEP)
        self.activity_count = 0
        self.activity_live = False
        """Following the store's activity feed (subscribed: nothing committed now is missed)."""
        self._activity_task: asyncio.Task[None] | None = None
        self._ingesting = False
        self._next_snapshot: FleetSnapshot | None = None
        self._gc_thresholds: tuple[int, int, int] | None = None
        """The collector's thresholds before the console ran (`console.heap.quiet`)."""
        self._switch_interval: float | None = None
        """The GIL's switch interval before the console ran (`console.gil`)."""

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(DEFAULT_STATUS)

    async def on_mount(self) -> None:
        self._gc_thresholds = heap.quiet()
        self._switch_interval = gil.favour_the_loop()
        self.set_interval(heap.FULL_EVERY_S, heap.collect_fully)
        for theme in THEMES:
            self.register_theme(theme)
        self.theme = self._theme_name
        self.set_class(self.production, "-production")
        self.set_class(self.ascii, "-ascii")
        if self._keymap:
            self.set_keymap(self._keymap)
        self.fleet_snapshot(self.fleet.snapshot)
        if self.dispatcher is None:
            await self._open_dispatcher()
        if self.store is not None:
            self._keeper = SnapshotKeeper(self.store, self.fleet.context)
            if await self._keeper.restore_into(self.fleet):
                self.fleet_snapshot(self.fleet.snapshot)
            self.set_interval(self._keeper.every_s, self._save_snapshot)
        self.run_worker(recover_migrations(self), group="migrations", name="recover")
        self.run_worker(resume_operations(self), group="operations", name="resume")
        if self.store is not None:
            # A task, not a worker: it never completes, and `workers.wait_for_complete()`
            # (which tests and scripts use to let actions finish) must not wait for it.
            self._activity_task = asyncio.create_task(self._follow_activity(self.store))
        if self.metrics_feed is not None:
            self.set_interval(ALERTS_REFRESH_S, self._refresh_alerts)
            self.call_later(self._refresh_alerts)
            started = time.monotonic()

            async def early_alerts() -> None:
                if self.alerts or time.monotonic() - started > EARLY_ALERTS_S:
                    early.stop()
                    return
                await self._refresh_alerts()

            early = self.set_interval(1.0, early_alerts)
            self.set_interval(self.fleet.interval_s, self._refresh_usage)
        await self.switch_mode("inventory")
        self.fleet.on_snapshot(self.fleet_snapshot)
        await self.fleet.start()

    async def _follow_activity(self, store: Store) -> None:
        """Every console's actions as they happen (the store's feed), for the Activity
        screen; another console's in this context also as a toast, and a migration it
        starts makes the fleet look now, so the board adopts it at once."""
        while True:
            try:
                events = await store.activity()
                self.activity_live = True
                async for event in events:
                    self._activity(event)
            except Exception as exc:  # the store closed or lost: follow again later
                log.warning("activity feed lost: %s", exc)
            self.activity_live = False
            await asyncio.sleep(ACTIVITY_RETRY_S)

    def _activity(self, event: Activity) -> None:
        self.activity.append((time.strftime("%H:%M:%S"), event))
        self.activity_count += 1
        if event.mine or event.context != self.fleet.context:
            return
        if event.action == "vm.migrate" and event.status in ("started", "running"):
            self.fleet.poke()
        if event.kind == "audit":
            failed = event.status in ("failed", "refused")
            self.notify(event.describe(), title="Another console",
                        severity="warning" if failed else "information", markup=False)

    async def _refresh_alerts(self) -> None:
        """Keep `alerts` current for the wall; a failing Prometheus keeps the last list."""
        if self.metrics_feed is None:
            return
        alerts, error = await self.metrics_feed.alerts()
        if not error:
            self.alerts = alerts

    async def _refresh_usage(self) -> None:
        """Usage from the metrics feed for hosts and VMs whose source measures none; a failing
        feed keeps the last figures (the next snapshot still shows them)."""
        if self.metrics_feed is None:
            return
        samples, error = await self.metrics_feed.samples()
        self.usage_error = error
        if not error:
            self._usage = samples
            if self.alerts is None:  # the source has just come up (a demo Prometheus
                await self._refresh_alerts()  # starting): its alerts now, not in 10 s

    async def _save_snapshot(self) -> None:
        if self._keeper is not None:
            await self._keeper.save(self.snapshot)

    async def on_unmount(self) -> None:
        if self._gc_thresholds is not None:
            heap.restore(self._gc_thresholds)
        if self._switch_interval is not None:
            gil.restore(self._switch_interval)
        if self._activity_task is not None:
            self._activity_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._activity_task
        await self.fleet.stop()
        await self._save_snapshot()
        if self.metrics_feed is not None:
            await self.metrics_feed.close()
        if self.store is not None:
            await self.store.close()

    async def _open_dispatcher(self) -> None:
        """Open the audit store and the dispatcher; without a store, actions are refused."""
        audit: object
        try:
            audit = self.store = await Store.open(self.store_location)
        except Exception as exc:
            audit = UnavailableAudit(f"audit store unavailable: {exc}")
            self.notify(f"Actions are disabled: {exc}", severity="error", markup=False)
        self.dispatcher = Dispatcher(self.fleet.backends, audit=audit,  # type: ignore[arg-type]
                                     context=self.fleet.context, read_only=self.read_only,
                                     poke=self.fleet.poke)

    def action_command_line(self) -> None:
        """`:` opens the command line; its commands come from the screens and the registry."""
        def run(line: str | None) -> None:
            self.run_worker(execute(self, line), group="actions", name="command")

        self.push_screen(CommandLineScreen(), run)

    def fleet_snapshot(self, snapshot: FleetSnapshot) -> None:
        """Called by the fleet (same loop) with every new snapshot."""
        self.post_message(FleetUpdated(snapshot))

    def on_fleet_updated(self, message: FleetUpdated) -> None:
        """Record the snapshot's metrics, then hand it to the screens. A large one (100k VMs)
        is recorded in steps by a worker, so keys are served between steps; a newer one
        arriving meanwhile waits (and replaces any other waiting)."""
        snap = with_usage(message.snapshot, self._usage)
        if self._ingesting or len(snap.vms) > INGEST_STEP:
            self._next_snapshot = snap
            if not self._ingesting:
                self._ingesting = True
                self.run_worker(self._ingest_pending(), group="fleet-ingest")
            return
        self.metrics.ingest(snap)
        self._show(snap)

    async def _ingest_pending(self) -> None:
        try:
            while self._next_snapshot is not None:
                snap, self._next_snapshot = self._next_snapshot, None
                for _ in self.metrics.ingest_steps(snap, INGEST_STEP):
                    await asyncio.sleep(0)
                self._show(snap)
        finally:
            self._ingesting = False

    def _show(self, snap: FleetSnapshot) -> None:
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

    def open_action_screen(self, spec: ActionSpec, target: Target, origin: str = "tui") -> None:
        """The screen an action's spec `opens`, for one VM: its snapshots, or the migrate
        dialog (which chooses the target)."""
        if spec.opens == "snapshots":
            self.push_screen(SnapshotsScreen(target))
        elif spec.opens == "migrate":
            vms = self.snapshot.vms if self.snapshot is not None else ()
            open_migrate_dialog(self, next((vm for vm in vms if vm.key == target.key), None),
                                origin=origin)
        elif spec.opens == "new_vm":
            open_new_vm_dialog(self, self.context_config, origin=origin)
        elif spec.opens == "console":
            self.run_worker(run_console(self, target, origin), group="actions",
                            name=f"console:{target.key}")
        elif spec.opens == "resize":
            vms = self.snapshot.vms if self.snapshot is not None else ()
            open_resize_dialog(self, next((vm for vm in vms if vm.key == target.key), None),
                               origin=origin, disk=spec.id == GROW_DISK)
        else:
            raise ValueError(f"{spec.id} opens {spec.opens!r}, a screen this app does not know")

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.screen))

    def search_themes(self) -> None:
        """The palette's "Theme" entry: only NovaCron's themes."""
        self.push_screen(CommandPalette(providers=[ThemeCommands], placeholder="Theme…"))

    def get_key_display(self, binding: Binding) -> str:
        """Key names instead of symbols that fonts (and the Linux console) may lack."""
        key = binding.key.split(",")[0]
        if not binding.key_display and (self.ascii or key in ("enter", "backspace")):
            return {"question_mark": "?", "slash": "/"}.get(key, key.replace("ctrl+", "^"))
        return super().get_key_display(binding)

    def action_copy_vm(self, field: str) -> None:
        """Copy the selected VM's name, ID or first address with OSC 52 (works over SSH)."""
        text = vm_copy_text(self.screen, field)
        if text is None:
            self.notify("No VM selected", severity="warning", timeout=2)
            return
        self.copy_to_clipboard(text)
        self.notify(f"Copied {field}: {text}", timeout=2, markup=False)
