"""A wall tile: a title in the border, one big number, and a line or two of detail.

The number is drawn with Textual's `Digits` (box-drawing glyphs) or, when ASCII-only output
is asked for (`ui.ascii`, `NOVACRON_ASCII=1`, the Linux console), with a three-line
seven-segment font made of `_` and `|`. Setting the same value again draws nothing.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Digits, Static

LEVELS = ("ok", "warn", "crit", "stale", "idle")
"""Tile classes (`-ok` …): each maps to a theme variable in `DEFAULT_CSS`."""

_ASCII_FONT = {
    "0": (" _ ", "| |", "|_|"),
    "1": ("   ", "  |", "  |"),
    "2": (" _ ", " _|", "|_ "),
    "3": (" _ ", " _|", " _|"),
    "4": ("   ", "|_|", "  |"),
    "5": (" _ ", "|_ ", " _|"),
    "6": (" _ ", "|_ ", "|_|"),
    "7": (" _ ", "  |", "  |"),
    "8": (" _ ", "|_|", "|_|"),
    "9": (" _ ", "|_|", " _|"),
    "%": ("   ", "o/ ", "/o "),
    "-": ("   ", " _ ", "   "),
    ".": ("   ", "   ", " . "),
    " ": ("   ", "   ", "   "),
    "?": (" _ ", "  )", " . "),
}


def ascii_digits(value: str) -> str:
    """`value` as three lines of a seven-segment ASCII font (unknown characters as '?')."""
    glyphs = [_ASCII_FONT.get(ch, _ASCII_FONT["?"]) for ch in value]
    return "\n".join("".join(g[row] for g in glyphs) for row in range(3))


class AsciiDigits(Static):
    """Drop-in for `Digits` that only uses ASCII."""

    DEFAULT_CSS = "AsciiDigits { width: auto; height: 3; }"

    def __init__(self, value: str = "", *, id: str | None = None) -> None:
        super().__init__(Text(ascii_digits(value), no_wrap=True), id=id)
        self.value = value

    def update(self, value: str) -> None:  # type: ignore[override]
        self.value = value
        super().update(Text(ascii_digits(value), no_wrap=True))


class Tile(Widget):
    """A bordered tile: `title` in the border, `value` in big digits, `detail` under it."""

    ASCII: ClassVar[bool] = False
    """Draw digits with ASCII only (the app sets this from `ui.ascii`)."""

    DEFAULT_CSS = """
    Tile {
        border: round $foreground-muted;
        border-title-color: $foreground;
        border-title-style: bold;
        padding: 0 1;
        height: 1fr;
        width: 1fr;
        layout: vertical;
        align: center middle;
        overflow: hidden hidden;
    }
    Tile > .tile--value { width: auto; height: 3; color: $foreground; }
    Tile > #detail { width: auto; max-width: 100%; height: auto; color: $foreground; }
    Tile.-ok { border: round $status-running; }
    Tile.-ok > .tile--value { color: $status-running; }
    Tile.-warn { border: round $status-paused; }
    Tile.-warn > .tile--value { color: $status-paused; }
    Tile.-crit { border: heavy $status-error; }
    Tile.-crit > .tile--value { color: $status-error; text-style: bold; }
    Tile.-stale { border: dashed $status-stale; }
    Tile.-stale > .tile--value { color: $status-stale; }
    Tile.-stale > #detail { color: $status-stale; }
    Tile.-idle > .tile--value { color: $foreground-muted; }
    """

    value: reactive[str] = reactive("", layout=False, repaint=False)
    """The big number (any short text the font has: digits, '%', '-', '.')."""
    detail: reactive[str] = reactive("", layout=False, repaint=False)
    """Plain text under the number; never interpreted as markup."""
    level: reactive[str] = reactive("idle", layout=False, repaint=False)
    """One of `LEVELS`: picks the colour from the theme."""

    def __init__(self, title: str, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.border_title = title

    def compose(self) -> ComposeResult:
        if self.ASCII:
            yield AsciiDigits(self.value or "-", id="value")
        else:
            yield Digits(self.value or "-", id="value")
        yield Static("", id="detail", markup=False)

    def on_mount(self) -> None:
        self.query_one("#value").add_class("tile--value")
        self.set_class(True, f"-{self.level}")

    def show(self, value: str, detail: str = "", level: str = "idle") -> None:
        """Set everything at once; unchanged parts cost nothing."""
        self.value = value
        self.detail = detail
        self.level = level

    def watch_value(self, value: str) -> None:
        if self.is_mounted:
            widget = self.query_one("#value")
            widget.update(value or "-")  # type: ignore[attr-defined]

    def watch_detail(self, detail: str) -> None:
        if self.is_mounted:
            self.query_one("#detail", Static).update(Text(detail))

    def watch_level(self, old: str, new: str) -> None:
        self.remove_class(f"-{old}")
        self.add_class(f"-{new}")
