"""An `Input` whose cursor does not blink.

A blinking cursor repaints twice a second for as long as the input has focus: bytes on a thin
SSH link while nothing changes, and a cursor that is drawn or not depending on the instant
(which made the filter-bar snapshot flaky). The cursor stays visible instead.
"""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import Input


class SteadyInput(Input):
    """`Input` with `cursor_blink` off by default."""

    cursor_blink = reactive(False, init=False)
