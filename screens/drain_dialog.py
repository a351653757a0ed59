"""Drain a host: show the plan (each running VM → its target), one confirmation, then a summary.

Callable from anywhere (`open_drain_dialog(app, host_name)`): the hosts screen, the palette.
The drain runs in the tracker, so the board shows every migration as it goes.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from console.actions.dispatcher import Request
from console.actions.registry import MIGRATE
from console.migration.drain import DEFAULT_DRAIN_CONCURRENCY, drain
from console.migration.plan import DrainPlan, plan_drain
from console.provision.placement import Rules
from screens.migrations import tracker_for
from screens.run_action import refuse_up_front, target_of
from widgets.steady_input import SteadyInput


def plan_text(plan: DrainPlan) -> Text:
    text = Text()
    text.append(f"{len(plan.moves)} VM(s) to move", style="bold")
    text.append(f", {len(plan.unplaced)} without a target, {len(plan.skipped)} not running\n")
    for vm, target in plan.moves:
        text.append(f"  {vm.name} → {target}\n")
    for vm, why in plan.unplaced:
        text.append(f"  ✗ {vm.name}: {why}\n", style="bold")
    for vm in plan.skipped:
        text.append(f"  - {vm.name} ({vm.state.value}, stays)\n", style="dim")
    text.rstrip()
    return text


class DrainDialog(ModalScreen[bool]):
    """Dismisses True when the drain was started."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss_false", "Cancel", id="drain.cancel"),
    ]
    DEFAULT_CSS = """
    DrainDialog { align: center middle; }
    DrainDialog > Vertical { width: 76; max-width: 98%; height: auto; max-height: 98%;
        border: thick $warning 60%; background: $surface; padding: 0 1; }
    DrainDialog .title { text-style: bold; }
    DrainDialog #plan { height: auto; max-height: 14; overflow-y: auto; }
    DrainDialog #concurrency-row { height: auto; }
    DrainDialog #concurrency-row Label { padding: 1 0; }
    DrainDialog #concurrency { width: 10; }
    DrainDialog #buttons { height: auto; align-horizontal: right; }
    DrainDialog Button { margin-left: 2; }
    """

    def __init__(self, host: str, plan: DrainPlan) -> None:
        super().__init__()
        self.host = host
        self.plan = plan

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(f"Drain {self.host}: live-migrate every running VM off it"),
                         classes="title")
            yield Static(plan_text(self.plan), id="plan")
            with Horizontal(id="concurrency-row"):
                yield Label("migrations at a time: ")
                yield SteadyInput(str(DEFAULT_DRAIN_CONCURRENCY), id="concurrency", type="integer")
            with Horizontal(id="buttons"):
                yield Button("Cancel", id="cancel", variant="primary")
                yield Button(f"Drain ({len(self.plan.moves)})", id="go", variant="warning",
                             disabled=not self.plan.moves)

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    @on(Button.Pressed, "#cancel")
    def action_dismiss_false(self) -> None:
        self.dismiss(False)

    @on(Button.Pressed, "#go")
    def _go(self) -> None:
        raw = self.query_one("#concurrency", Input).value.strip()
        concurrency = max(1, min(16, int(raw))) if raw.isdigit() else DEFAULT_DRAIN_CONCURRENCY
        run_drain(self.app, self.host, self.plan, concurrency)
        self.dismiss(True)


def run_drain(app: Any, host: str, plan: DrainPlan, concurrency: int) -> None:
    """Start the drain in the background; a notification carries the summary at the end."""
    tracker = tracker_for(app)

    async def run() -> None:
        summary = await drain(tracker, host, app.snapshot, concurrency=concurrency, plan=plan)
        severity = "information" if not summary.failed and not plan.unplaced else "error"
        app.notify("\n".join(summary.lines()), title=f"Drain of {host}", severity=severity,
                   timeout=15, markup=False)

    app.run_worker(run(), group="migrations", name=f"drain:{host}")


def open_drain_dialog(app: Any, host: str, origin: str = "tui") -> None:
    """The hosts screen and the palette call this with a host name."""
    snapshot = app.snapshot
    if snapshot is None or host not in {h.name for h in snapshot.hosts}:
        app.notify(f"No host named {host!r}", severity="warning", timeout=3, markup=False)
        return
    rules = Rules.of(getattr(app, "context_config", None))  # test apps may not have one
    plan = plan_drain(host, snapshot, tracker_for(app).busy(), limits=rules.limits,
                      spread_by=rules.spread_by)
    movable = [vm for vm, _target in plan.moves] + [vm for vm, _why in plan.unplaced]
    if refuse_up_front(app, [Request(MIGRATE, target_of(vm), {}, origin=origin)
                             for vm in movable]):
        return  # e.g. read-only: every move would be refused, so no plan to confirm
    source = next(h for h in snapshot.hosts if h.name == host)
    if source.cannot_migrate:
        app.notify(f"{host}: {source.cannot_migrate} (or \"Start the lab\" in the palette, "
                   "ctrl+p)", severity="warning", timeout=10, markup=False)
        return
    app.push_screen(DrainDialog(host, plan))
