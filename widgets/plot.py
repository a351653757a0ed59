"""A small bar plot with a fixed scale, so 50 % CPU always looks like half height.

Textual's Sparkline scales each series to its own min and max, which turns a 1 % wobble into a
full-height cliff; operators read height as magnitude, so this plot takes an explicit range.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.segment import Segment
from rich.style import Style
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

BLOCKS = " ▁▂▃▄▅▆▇█"


def resample(values: Sequence[float], width: int) -> list[float]:
    """At most `width` values: the maximum of each bucket (peaks must not vanish)."""
    if len(values) <= width:
        return list(values)
    size = len(values) / width
    return [max(values[int(i * size): max(int(i * size) + 1, int((i + 1) * size))])
            for i in range(width)]


class Plot(Widget):
    """Bars for `data` between `low` and `high`, newest on the right."""

    COMPONENT_CLASSES = {"plot--bar", "plot--empty"}

    DEFAULT_CSS = """
    Plot { height: 4; }
    Plot > .plot--bar { color: $primary; }
    Plot > .plot--empty { color: $foreground-muted; }
    """

    data: reactive[tuple[float, ...]] = reactive(tuple)
    """The values to draw, oldest first."""

    def __init__(self, *, low: float = 0.0, high: float | None = 1.0, id: str | None = None) -> None:
        super().__init__(id=id)
        self.low = low
        self.high = high
        """Top of the scale; None scales to the data's maximum (for sizes in bytes)."""

    def render_line(self, y: int) -> Strip:
        width, height = self.size.width, self.size.height
        base = self.rich_style
        values = resample(self.data, width)
        if not values:
            return Strip([Segment(" " * width, base)], width)
        top = self.high if self.high is not None else (max(values) or 1.0)
        span = (top - self.low) or 1.0
        bar_style: Style = base + self.get_component_rich_style("plot--bar", partial=True)
        row_from_bottom = height - 1 - y
        chars = []
        for value in values:
            level = max(0.0, min(1.0, (value - self.low) / span)) * height * 8
            eighths = round(level - row_from_bottom * 8)
            chars.append(BLOCKS[max(0, min(8, eighths))])
        text = "".join(chars).rjust(width)
        return Strip([Segment(text, bar_style)], width)
