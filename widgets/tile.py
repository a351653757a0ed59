"""A wall tile: a title in the border, one big number, and a line or two of detail.

The number is drawn with Textual's `Digits` (box-drawing glyphs, three lines) or, when
ASCII-only output is asked for (`ui.ascii`, `NOVACRON_ASCII=1`, the Linux console), with a
three-line seven-segment font made of `_` and `|`. On a big screen (a NOC TV: 240x67 and
up) a tile has room for more: the number is then drawn in solid blocks scaled to fill it
(`BlockDigits`), readable across a room; a tile too small for that keeps the three-line font,
so 80x24 looks as before. Setting the same value again draws nothing.
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


_BLOCK_FONT = {
    "0": ("###", "# #", "# #", "# #", "###"), "1": (" # ", "## ", " # ", " # ", "###"),
    "2": ("###", "  #", "###", "#  ", "###"), "3": ("###", "  #", "###", "  #", "###"),
    "4": ("# #", "# #", "###", "  #", "  #"), "5": ("###", "#  ", "###", "  #", "###"),
    "6": ("###", "#  ", "###", "# #", "###"), "7": ("###", "  #", "  #", "  #", "  #"),
    "8": ("###", "# #", "###", "# #", "###"), "9": ("###", "# #", "###", "  #", "###"),
    "%": ("# #", "  #", " # ", "#  ", "# #"), "-": ("   ", "   ", "###", "   ", "   "),
    ".": ("   ", "   ", "   ", "   ", " # "), " ": ("   ", "   ", "   ", "   ", "   "),
    "?": ("###", "  #", " ##", "   ", " # "),
}
"""A 3x5 pixel font; each pixel is drawn `scale` cells wide and `scale` half-cells tall
(square on screen: a cell is about twice as tall as wide)."""
_HALVES = {(False, False): " ", (True, False): "\u2580", (False, True): "\u2584",
           (True, True): "\u2588"}


def block_scale(value: str, columns: int, rows: int) -> int:
    """The largest scale at which `value` fits in `columns` x `rows` cells (0: none)."""
    n = max(1, len(value))
    return max(0, min(columns // (4 * n - 1), (2 * rows) // 5))


def block_digits(value: str, scale: int) -> str:
    """`value` in the block font at `scale` (lines of half-block characters)."""
    glyphs = [_BLOCK_FONT.get(ch, _BLOCK_FONT["?"]) for ch in value]
    gap = [" " * scale] * 5
    pixels: list[str] = []
    for row in range(5):
        line = (gap[row]).join("".join(px * scale for px in g[row]) for g in glyphs)
        pixels += [line] * scale
    if len(pixels) % 2:
        pixels.append(" " * len(pixels[0]))
    return "\n".join("".join(_HALVES[(top == "#", bottom == "#")] for top, bottom in zip(
        pixels[i], pixels[i + 1], strict=True)) for i in range(0, len(pixels), 2))


class BlockDigits(Static):
    """The tile's number in solid blocks, as large as the tile allows (`Tile` sizes it)."""

    DEFAULT_CSS = """
    BlockDigits { width: auto; height: auto; display: none; text-wrap: nowrap; }
    """
    """`nowrap`: wrapping drops the spaces that start a line, and would shift the glyphs."""

    def show(self, value: str, scale: int) -> None:
        self.update(Text(block_digits(value, scale), no_wrap=True))


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
    Tile > BlockDigits { color: $foreground; }
    Tile.-big > .tile--value { display: none; }
    Tile.-big > BlockDigits { display: block; }
    Tile > #detail { width: auto; max-width: 100%; height: auto; color: $foreground; }
    Tile.-ok { border: round $status-running; }
    Tile.-ok > .tile--value, Tile.-ok > BlockDigits { color: $status-running; }
    Tile.-warn { border: round $status-paused; }
    Tile.-warn > .tile--value, Tile.-warn > BlockDigits { color: $status-paused; }
    Tile.-crit { border: heavy $status-error; }
    Tile.-crit > .tile--value, Tile.-crit > BlockDigits { color: $status-error; text-style: bold; }
    Tile.-stale { border: dashed $status-stale; }
    Tile.-stale > .tile--value, Tile.-stale > BlockDigits { color: $status-stale; }
    Tile.-stale > #detail { color: $status-stale; }
    Tile.-idle > .tile--value, Tile.-idle > BlockDigits { color: $foreground-muted; }
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
            yield BlockDigits("", id="big")
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
            self._fit()

    def watch_detail(self, detail: str) -> None:
        if self.is_mounted:
            self.query_one("#detail", Static).update(Text(detail))
            self._fit()

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        """Blocks when the tile has room for them at twice the three-line font or more."""
        if self.ASCII:
            return
        value = self.value or "-"
        rows = self.content_size.height - (self.detail.count("\n") + 1 if self.detail else 0) - 1
        scale = block_scale(value, self.content_size.width, rows)
        big = scale >= 2
        if big:
            self.query_one("#big", BlockDigits).show(value, scale)
        self.set_class(big, "-big")

    def watch_level(self, old: str, new: str) -> None:
        self.remove_class(f"-{old}")
        self.add_class(f"-{new}")
