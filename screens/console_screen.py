"""The base of the console's full-size screens: moving focus repaints what changed only.

Textual's `Screen.focused` is a reactive that repaints the whole screen whenever focus moves.
The widgets that look different when focused (the table's cursor, the filter box) restyle and
repaint themselves anyway, so the whole-screen repaint only redrew unchanged lines: about a
third of the event loop's work for `/` and escape on the inventory (160x48), a frame of
keypress latency. `make bench ARGS=latency` measures it.
"""

from __future__ import annotations

from textual.reactive import Reactive
from textual.screen import Screen
from textual.widget import Widget


class ConsoleScreen(Screen[None]):
    """A `Screen` whose focus changes repaint only the widgets they restyle."""

    focused: Reactive[Widget | None] = Reactive(None, repaint=False)
