"""Confirmation dialogs: yes/no with Cancel focused, and type-the-name.

Both are built so that the easy keys do nothing harmful: `enter` on the yes/no dialog
presses the focused button, which is Cancel; the type-the-name dialog only confirms when the
typed text equals the name exactly, and a wrong name or `esc` leaves everything untouched.
Names are untrusted text: every label is a `rich.text.Text`, never markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Static

from widgets.steady_input import SteadyInput

DIALOG_CSS = """
{cls} {{ align: center middle; }}
{cls} > Vertical {{
    width: 72; max-width: 95%; height: auto; border: thick $error 60%;
    background: $surface; padding: 1 2;
}}
{cls} .title {{ text-style: bold; margin-bottom: 1; }}
{cls} .hint {{ color: $foreground-muted; }}
{cls} .wrong {{ color: $error; height: 1; }}
{cls} Horizontal {{ height: auto; margin-top: 1; align-horizontal: right; }}
{cls} Button {{ margin-left: 2; }}
"""


class ConfirmScreen(ModalScreen[bool]):
    """Yes/no. Cancel has the focus; `esc` cancels. Dismisses with True only on the yes button."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="confirm.cancel"),
        Binding("left,right", "app.focus_next", show=False, id="confirm.switch"),
    ]
    DEFAULT_CSS = DIALOG_CSS.format(cls="ConfirmScreen")

    def __init__(self, title: str, body: Text | str, yes_label: str = "Confirm") -> None:
        super().__init__()
        self._title = title
        self._body = body if isinstance(body, Text) else Text(body)
        self._yes_label = yes_label

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self._title), classes="title")
            yield Static(self._body, id="body")
            yield Static(Text("enter on Cancel does nothing; tab to the other button.",
                              style="italic"), classes="hint")
            with Horizontal():
                yield Button("Cancel", id="cancel", variant="primary")
                yield Button(Text(self._yes_label), id="yes", variant="error")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    @on(Button.Pressed, "#yes")
    def _yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)


@dataclass(frozen=True, slots=True)
class TypedConfirmation:
    """What the operator typed (equal to the expected name) and the options they ticked."""

    typed: str
    options: dict[str, bool]


class TypeNameScreen(ModalScreen[TypedConfirmation | None]):
    """Type the target's name to confirm. Wrong name: says so, stays open. `esc`: None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="confirm.cancel"),
    ]
    DEFAULT_CSS = DIALOG_CSS.format(cls="TypeNameScreen") + """
    TypeNameScreen Input { margin-top: 1; }
    """

    def __init__(self, title: str, body: Text | str, expected: str,
                 options: dict[str, str] | None = None) -> None:
        """`options`: checkbox id → label (e.g. remove_storage → "Also delete its disks")."""
        super().__init__()
        self._title = title
        self._body = body if isinstance(body, Text) else Text(body)
        self.expected = expected
        self._options = options or {}

    def compose(self) -> ComposeResult:
        prompt = Text("Type ")
        prompt.append(self.expected, style="bold")
        prompt.append(" to confirm, then enter. esc cancels.")
        with Vertical():
            yield Static(Text(self._title), classes="title")
            yield Static(self._body, id="body")
            yield Static(prompt, id="prompt")
            yield SteadyInput(id="typed")
            for option_id, label in self._options.items():
                yield Checkbox(Text(label), id=option_id)
            yield Static("", classes="wrong", id="wrong")

    def on_mount(self) -> None:
        self.query_one("#typed", Input).focus()

    @on(Input.Submitted, "#typed")
    def _submitted(self, event: Input.Submitted) -> None:
        if event.value != self.expected:
            self.query_one("#wrong", Static).update(
                Text("That is not the name. Nothing was done."))
            return
        options = {oid: self.query_one(f"#{oid}", Checkbox).value for oid in self._options}
        self.dismiss(TypedConfirmation(event.value, options))

    def action_cancel(self) -> None:
        self.dismiss(None)
