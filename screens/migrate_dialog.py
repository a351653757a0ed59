"""Start a live migration: pick a target (ranked), read its pre-flight checks, set options.

Targets are ranked by the scheduler (`console.provision.placement`: memory and vCPU headroom
after the move within the context's overcommit limits, anti-affinity by `spread_by`); the checks of the
highlighted target are listed, and `Migrate` refuses (naming the failed checks) when any of
them fails. Started migrations run in the tracker; the board (`3`) follows them.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from backends.base import MigrationOptions
from console.actions.dispatcher import Request
from console.actions.registry import MIGRATE
from console.errors import NovaError
from console.migration.plan import TargetChoice, rank_targets
from console.models import VM
from console.provision.placement import Rules
from screens.migrations import tracker_for
from screens.run_action import refuse_up_front, target_of
from widgets.format import human_bytes
from widgets.steady_input import SteadyInput


def choice_label(choice: TargetChoice) -> Text:
    mark = "✓" if choice.ok else "✗"
    text = Text(f"{mark} {choice.host.name:16} ", style="bold" if choice.ok else "dim")
    text.append(f"free after: {human_bytes(max(choice.free_memory_after, 0)):>9}, "
                f"{max(choice.free_vcpus_after, 0):>3} vCPU")
    if choice.ok:
        text.append(f"  score {choice.score:3.0f}")
    if not choice.ok:
        text.append(f"  {choice.failed[0].name}", style="italic")
    return text


def checks_text(choice: TargetChoice) -> Text:
    text = Text()
    for check in choice.checks:
        text.append("  ✓ " if check.ok else "  ✗ ", style="bold" if not check.ok else "")
        text.append(f"{check.name}: ", style="bold" if not check.ok else "")
        text.append(f"{check.detail}\n")
    text.rstrip()
    return text


class MigrateDialog(ModalScreen[str | None]):
    """Dismisses with the migration id when one started, None otherwise."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss_none", "Cancel", id="migrate.cancel"),
    ]
    DEFAULT_CSS = """
    MigrateDialog { align: center middle; }
    MigrateDialog > Vertical { width: 84; max-width: 98%; height: auto; max-height: 98%;
        border: thick $accent 60%; background: $surface; padding: 0 1; }
    MigrateDialog .title { text-style: bold; }
    MigrateDialog OptionList { height: auto; max-height: 6; }
    MigrateDialog #checks { height: auto; }
    MigrateDialog #refusal { color: $text-error; height: auto; }
    MigrateDialog #opts { height: auto; }
    MigrateDialog #opts Input { width: 16; }
    MigrateDialog #opts Checkbox { width: auto; }
    MigrateDialog #buttons { height: auto; align-horizontal: right; }
    MigrateDialog Button { margin-left: 2; }
    """

    def __init__(self, vm: VM, choices: list[TargetChoice]) -> None:
        super().__init__()
        self.vm = vm
        self.choices = choices

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(f"Live-migrate {self.vm.name} from {self.vm.host}"), classes="title")
            yield OptionList(*[Option(choice_label(c), id=c.host.name) for c in self.choices],
                             id="targets")
            yield Static("", id="checks")
            with Horizontal(id="opts"):
                yield SteadyInput(placeholder="MiB/s cap", id="bandwidth", type="integer")
                yield Checkbox("auto-converge", id="auto_converge")
                yield Checkbox("post-copy", id="post_copy")
            yield Label("", id="refusal")
            with Horizontal(id="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Migrate", id="go", variant="primary")

    def on_mount(self) -> None:
        targets = self.query_one("#targets", OptionList)
        if self.choices:
            targets.highlighted = 0
            self._show(self.choices[0])
        else:
            self.query_one("#refusal", Label).update("No other host in this context.")
        targets.focus()

    def _choice(self) -> TargetChoice | None:
        index = self.query_one("#targets", OptionList).highlighted
        return None if index is None or not self.choices else self.choices[index]

    def _show(self, choice: TargetChoice) -> None:
        self.query_one("#checks", Static).update(checks_text(choice))
        self.query_one("#refusal", Label).update("")

    @on(OptionList.OptionHighlighted, "#targets")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._show(self.choices[event.option_index])

    @on(OptionList.OptionSelected, "#targets")
    async def _selected(self, _event: OptionList.OptionSelected) -> None:
        await self.start()

    @on(Button.Pressed, "#go")
    async def _go(self) -> None:
        await self.start()

    @on(Button.Pressed, "#cancel")
    def action_dismiss_none(self) -> None:
        self.dismiss(None)

    def options(self) -> MigrationOptions:
        raw = self.query_one("#bandwidth", Input).value.strip()
        return MigrationOptions(
            bandwidth_mib_s=int(raw) if raw.isdigit() and int(raw) > 0 else None,
            auto_converge=self.query_one("#auto_converge", Checkbox).value,
            post_copy=self.query_one("#post_copy", Checkbox).value)

    async def start(self) -> None:
        choice = self._choice()
        refusal = self.query_one("#refusal", Label)
        if choice is None:
            return
        if not choice.ok:
            refusal.update(Text(f"Refused: {choice.refusal()}"))
            return
        try:
            state = await tracker_for(self.app).start(self.vm, choice.host, self.options())
        except NovaError as err:
            refusal.update(Text(f"Refused: {err}"))
            return
        self.dismiss(state.id)


def open_migrate_dialog(app: Any, vm: VM | None, origin: str = "tui") -> None:
    """From the inventory (`m`) or the palette: the dialog, then the board once it started.

    A migration the dispatcher would refuse anyway (read-only, busy VM) is refused and
    audited at once instead of opening the dialog.
    """
    if vm is None:
        app.notify("Select a VM to migrate", severity="warning", timeout=3)
        return
    if refuse_up_front(app, [Request(MIGRATE, target_of(vm), {}, origin=origin)]):
        return
    snapshot = app.snapshot
    if snapshot is None:
        return
    source = next((h for h in snapshot.hosts if h.name == vm.host), None)
    if source is not None and source.cannot_migrate:
        app.notify(f"{vm.host}: {source.cannot_migrate} (or \"Start the lab\" in the palette, "
                   "ctrl+p)", severity="warning", timeout=10, markup=False)
        return
    rules = Rules.of(getattr(app, "context_config", None))  # test apps may not have one
    choices = rank_targets(vm, snapshot, tracker_for(app).busy(), limits=rules.limits,
                           spread_by=rules.spread_by)

    def started(migration_id: str | None) -> None:
        if migration_id:
            app.notify(f"Migration of {vm.name} started: follow it on the board (3)",
                       timeout=4, markup=False)

    app.push_screen(MigrateDialog(vm, choices), started)
