"""`?`: the keys of the current screen and the filter syntax, as plain text."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

FILTER_HELP = (
    "Filter (/): words match name, host, tags, addresses or id (all words must match).\n"
    "  tag:env=prod  host:kvm-fra  state:running  backend:kvm-ams-01  ip:10.0.  -word negates"
)


def keys_table(screen: Screen[object]) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    seen: set[str] = set()
    for _key, active in screen.active_bindings.items():
        binding = active.binding
        if not binding.description or binding.action in seen:
            continue
        seen.add(binding.action)
        table.add_row(Text(screen.app.get_key_display(binding)), Text(binding.description))
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss", "Close", id="help.close"),
    ]

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 80%; max-width: 90; height: 80%; border: round $primary; background: $surface;
        padding: 0 1;
    }
    """

    def __init__(self, under: Screen[object]) -> None:
        super().__init__()
        self._under = under

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(Text("Keys", style="bold"))
            yield Static(keys_table(self._under))
            yield Static(Text("\n" + FILTER_HELP))
            yield Static(Text("\nesc closes this help.", style="italic"))
