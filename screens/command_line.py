"""The `:` command line (k9s style): `:audit`, `:inventory`, `:start`, `:revert SNAP` …

Commands are the app's screens plus every verb (and alias) of the action registry, so a new
action is a new command with no code here. An action runs on the VMs the current screen
offers (marked rows, else the cursor), or on VMs named after the verb, and goes through
`run_action` like a key press: same confirmation, same dispatcher, same audit.
"""

from __future__ import annotations

import shlex
from typing import Any, ClassVar

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Input

from console.actions import registry as actions
from console.actions.dispatcher import Target
from console.errors import NovaError
from console.fleet.resolve import resolve_vms
from screens.run_action import notify, open_screen, run_action, target_of
from widgets.steady_input import SteadyInput

SCREEN_ALIASES = {"inv": "inventory", "vms": "inventory", "vm": "inventory", "host": "hosts",
                  "metric": "metrics", "mig": "migrations", "log": "audit"}


def command_words(app: App[Any]) -> list[str]:
    modes = list(getattr(app, "MODES", {}))
    verbs = [w for spec in actions.ACTIONS for w in (spec.verb, *spec.aliases)]
    return sorted({*modes, *verbs, "help", "quit"})


class CommandLineScreen(ModalScreen[str | None]):
    """A one-line prompt at the bottom; enter runs, esc closes. Tab completes a word."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Close", id="command_line.close"),
    ]
    DEFAULT_CSS = """
    CommandLineScreen { align: left bottom; background: transparent; }
    CommandLineScreen Input { dock: bottom; width: 100%; border: none; height: 1;
                              background: $panel; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        words = command_words(self.app)
        yield SteadyInput(placeholder=":audit  :start  :revert SNAPSHOT  :inventory …",
                    suggester=SuggestFromList(words, case_sensitive=False), id="command")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)


async def execute(app: App[Any], line: str | None) -> None:
    """Run one `:` command line (runs in a worker: actions may open dialogs)."""
    try:
        words = shlex.split((line or "").strip().lstrip(":"))
    except ValueError as exc:
        notify(app, f"Cannot parse that command: {exc}", severity="error")
        return
    if not words:
        return
    head, args = words[0].lower(), words[1:]
    modes = getattr(app, "MODES", {})
    mode = SCREEN_ALIASES.get(head, head)
    if mode in modes:
        await app.switch_mode(mode)
        return
    if head in ("q", "quit"):
        app.exit()
        return
    if head == "help":
        app.action_help()  # type: ignore[attr-defined]
        return
    spec = actions.by_verb(head)
    if spec is None:
        notify(app, f"Unknown command {head!r}. Try :help, or tab to complete.",
               severity="warning")
        return
    params: dict[str, object] = {}
    names = args
    if spec.positional and args:
        params[spec.positional], names = args[0], args[1:]
    targets = _named_targets(app, names) if names else _screen_targets(app)
    if targets is None:
        return
    if spec.opens:
        open_screen(app, spec, targets, "command")
        return
    await run_action(app, spec.id, targets, params, origin="command")


def _screen_targets(app: App[Any]) -> list[Target]:
    screen = app.screen
    chooser = getattr(screen, "action_targets", None)
    return list(chooser()) if callable(chooser) else []


def _named_targets(app: App[Any], names: list[str]) -> list[Target] | None:
    """VMs by any reference the CLI accepts (`console.fleet.resolve`)."""
    snapshot = getattr(app, "snapshot", None)
    try:
        return [target_of(vm) for vm in resolve_vms(snapshot.vms if snapshot else (), names)]
    except NovaError as err:
        notify(app, str(err), severity="error")
        return None
