"""The snapshots of one VM: list, take, revert, delete (`N` on a VM).

The list is a query through the dispatcher (so it works read-only); revert and delete are the
registry's snapshot actions, bound here by their ids and confirmed like every other action.
Snapshot names come from the host (sanitized at ingestion) and are drawn as plain cells.
"""

from __future__ import annotations

import time
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from console.actions import registry as actions
from console.actions.dispatcher import Request, Target
from console.actions.registry import TargetKind
from console.models import Snapshot
from screens.console_app import console_app
from screens.console_screen import ConsoleScreen
from screens.run_action import notify, run_action
from widgets.footer import Footer
from widgets.resource_table import Column, ResourceTable, Row
from widgets.status_header import StatusHeader

COLUMNS = (
    Column("name", "SNAPSHOT", 0, min_width=16),
    Column("created", "CREATED", 19),
    Column("state", "STATE", 9),
    Column("current", "CUR", 3),
    Column("description", "DESCRIPTION", 0, min_width=8, drop=1),
)


def snapshot_row(snap: Snapshot) -> Row:
    created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(snap.created_at)) \
        if snap.created_at else "-"
    return Row(key=snap.name, cells=(snap.name, created, snap.state, "*" if snap.current else "",
                                     snap.description))


class SnapshotsScreen(ConsoleScreen):
    """Snapshots of one VM. `esc` closes. A full screen, so `ctrl+p` and `:` work here too."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="snapshots.close"),
        Binding("ctrl+r", "reload", "Reload", show=False, id="snapshots.reload"),
        *(Binding(spec.key, f"snapshot_action('{spec.id}')", spec.title, id=spec.id)
          for spec in (actions.get("vm.snapshot_create"), *actions.for_target(TargetKind.SNAPSHOT))),
    ]
    DEFAULT_CSS = """
    SnapshotsScreen #title { text-style: bold; padding: 0 1; }
    SnapshotsScreen #status { color: $foreground-muted; padding: 0 1; height: 1; }
    """

    def __init__(self, target: Target) -> None:
        super().__init__()
        self.target = target
        self.snapshots: list[Snapshot] = []

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Read-only: the snapshot actions that change something are disabled and hidden."""
        if action == "snapshot_action" and parameters:
            spec = actions.get(str(parameters[0]))
            return not (spec.mutating and console_app(self.app).read_only)
        return True

    def compose(self) -> ComposeResult:
        title = Text("Snapshots of ")
        title.append(self.target.name, style="bold")
        yield StatusHeader()
        yield Static(title, id="title")
        yield ResourceTable(COLUMNS, id="snapshots")
        yield Static("loading…", id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(ResourceTable).focus()
        self.action_reload()

    @work(group="snapshots", exclusive=True)
    async def action_reload(self) -> None:
        dispatcher = console_app(self.app).dispatcher
        if dispatcher is None:
            return
        outcome = await dispatcher.run(
            Request("vm.snapshots", self.target, origin="tui"))
        status = self.query_one("#status", Static)
        if not outcome.ok:
            status.update(Text(str(outcome.error)))
            return
        self.snapshots = list(outcome.value or [])
        self.query_one(ResourceTable).set_rows([snapshot_row(s) for s in self.snapshots])
        status.update(Text(f"{len(self.snapshots)} snapshots" if self.snapshots
                           else "No snapshots yet: n takes one."))

    def selected(self) -> str | None:
        return self.query_one(ResourceTable).cursor_key

    def action_targets(self) -> list[Target]:
        return [self.target]

    def palette_actions(self) -> list[tuple[actions.ActionSpec, list[Target], dict[str, object]]]:
        """Take a snapshot, and revert to / delete the selected one."""
        offer: list[tuple[actions.ActionSpec, list[Target], dict[str, object]]] = [
            (actions.get("vm.snapshot_create"), [self.target], {})]
        if (name := self.selected()) is not None:
            offer += [(spec, [self.target], {"snapshot": name})
                      for spec in actions.for_target(TargetKind.SNAPSHOT)]
        return offer

    def action_snapshot_action(self, action_id: str) -> None:
        spec = actions.get(action_id)
        params: dict[str, object] = {}
        if spec.target is TargetKind.SNAPSHOT:
            name = self.selected()
            if name is None:
                notify(self.app, "No snapshot selected.", severity="warning")
                return
            params["snapshot"] = name
        self._run(action_id, params)

    @work(group="actions")
    async def _run(self, action_id: str, params: dict[str, object]) -> None:
        await run_action(self.app, action_id, [self.target], params)
        self.action_reload()
