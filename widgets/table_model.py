"""The data side of `ResourceTable`: columns, rows, and the pure layout and merge steps.

Kept apart from the widget so they can be reasoned about (and tested) without a running app.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple, overload

from rich.segment import Segment


@dataclass(frozen=True, slots=True)
class Column:
    """One column. `width=0` makes it flexible; higher `drop` is dropped first when narrow."""

    key: str
    label: str
    width: int = 0
    min_width: int = 6
    align: Literal["left", "right"] = "left"
    drop: int = 0
    status: bool = False
    """Colour this column's cell with the row's status style."""
    bar: bool = False
    """The cell is a ratio ("0.63", or "" when unknown) drawn as a bar with its percentage."""


class Row(NamedTuple):
    """One row: its key, its cells in column order, its status class, and whether stale."""

    key: str
    cells: tuple[str, ...]
    status: str = ""
    stale: bool = False


class LazyRows(Sequence[Row]):
    """The rows of `keys`, in that order, each made by `make(key)` the first time it is asked
    for (drawn, under the cursor, compared after a poll), then kept in `made`.

    Why: a table shows some 45 of 100,000 rows. Making every row up front was a third of the
    inventory's first paint from the stored snapshot and of every poll's digest; made on
    demand, a poll costs the rows on screen. Several `LazyRows` over the same VMs (the whole
    fleet, a filtered part) share one `made`."""

    __slots__ = ("_made", "_make", "keys")

    def __init__(self, keys: Sequence[str], make: Callable[[str], Row],
                 made: dict[str, Row] | None = None) -> None:
        self.keys = keys
        self._make = make
        self._made: dict[str, Row] = {} if made is None else made

    def __len__(self) -> int:
        return len(self.keys)

    @overload
    def __getitem__(self, index: int) -> Row: ...
    @overload
    def __getitem__(self, index: slice) -> list[Row]: ...

    def __getitem__(self, index: int | slice) -> Row | list[Row]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self.keys)))]
        key = self.keys[index]
        row = self._made.get(key)
        if row is None:
            row = self._made[key] = self._make(key)
        return row


def row_keys(rows: Sequence[Row]) -> list[str]:
    """The keys of `rows` in order, without making a `LazyRows`' rows."""
    return list(rows.keys) if isinstance(rows, LazyRows) else [row.key for row in rows]


def layout_columns(columns: Sequence[Column], width: int) -> tuple[list[int], list[int]]:
    """Visible column indices (dropping the highest `drop` first) and their widths."""
    visible = list(range(len(columns)))

    def needed(indices: list[int]) -> int:
        return sum((columns[i].width or columns[i].min_width) + 1 for i in indices)

    while len(visible) > 1 and needed(visible) > width:
        worst = max(visible, key=lambda i: (columns[i].drop, i))
        if columns[worst].drop == 0:
            break
        visible.remove(worst)
    fixed = sum(columns[i].width + 1 for i in visible if columns[i].width)
    flex = [i for i in visible if not columns[i].width]
    spare = max(0, width - fixed - len(flex))
    widths = {}
    for n, i in enumerate(flex):
        share = spare // len(flex) + (1 if n < spare % len(flex) else 0)
        widths[i] = max(columns[i].min_width, share)
    return visible, [columns[i].width or widths[i] for i in visible]


def merge_segments(segments: list[Segment]) -> list[Segment]:
    """Join neighbouring segments of one style: the terminal then gets one colour change per
    run instead of one per cell (a row is ~300 bytes instead of ~800)."""
    merged: list[Segment] = []
    for segment in segments:
        if merged and merged[-1].style == segment.style:
            merged[-1] = Segment(merged[-1].text + segment.text, segment.style)
        else:
            merged.append(segment)
    return merged
