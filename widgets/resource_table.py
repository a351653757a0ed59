"""A table on Textual's Line API that stays fast at 100k rows.

Only visible lines are rendered (`render_line`), rendered lines are cached by their content,
and an update repaints only the changed cells of the rows that are on screen (a `refresh` of
their regions), with one style run per colour, so a poll that changes 1 % of 100k rows costs
a few milliseconds and writes a few hundred bytes (`make bench` measures it). The cursor
follows its row's key across updates, so polls never move it.

Cells are plain strings rendered as `Segment`s: no markup is ever interpreted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from widgets.table_model import Column, LazyRows, Row, layout_columns, merge_segments, row_keys

__all__ = ["Column", "LazyRows", "ResourceTable", "Row"]

STATUS_CLASSES = ("running", "stopped", "paused", "migrating", "error", "stale")


class ResourceTable(ScrollView, can_focus=True):
    """A keyed, virtual table: header line, cursor, marks, sort indicator."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False, id="table.up"),
        Binding("down,j", "cursor(1)", "Down", show=False, id="table.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="table.page_up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="table.page_down"),
        Binding("home,g", "first", "First", show=False, id="table.first"),
        Binding("end,G", "last", "Last", show=False, id="table.last"),
        Binding("enter", "select", "Details", id="table.select"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "resource-table--header",
        "resource-table--cursor",
        "resource-table--cursor-focus",
        "resource-table--marked",
        "resource-table--stale",
        "resource-table--bar-ok",
        "resource-table--bar-warn",
        "resource-table--bar-crit",
        "resource-table--bar-empty",
        *(f"status--{name}" for name in STATUS_CLASSES),
    }

    DEFAULT_CSS = """
    ResourceTable {
        background: $surface;
        color: $foreground;
        scrollbar-gutter: stable;
    }
    ResourceTable > .resource-table--header { background: $panel; color: $foreground; text-style: bold; }
    ResourceTable > .resource-table--cursor { background: $table-cursor; text-style: bold; }
    ResourceTable > .resource-table--cursor-focus { background: $table-cursor-focus; text-style: bold; }
    ResourceTable > .resource-table--marked { color: $accent; text-style: bold; }
    ResourceTable > .resource-table--stale { color: $foreground-muted; text-style: italic; }
    ResourceTable > .resource-table--bar-ok { color: $success; }
    ResourceTable > .resource-table--bar-warn { color: $warning; }
    ResourceTable > .resource-table--bar-crit { color: $error; }
    ResourceTable > .resource-table--bar-empty { color: $foreground-muted; }
    ResourceTable > .status--running { color: $status-running; }
    ResourceTable > .status--stopped { color: $status-stopped; }
    ResourceTable > .status--paused { color: $status-paused; }
    ResourceTable > .status--migrating { color: $status-migrating; }
    ResourceTable > .status--error { color: $status-error; }
    ResourceTable > .status--stale { color: $status-stale; }
    """

    UNICODE_GLYPHS: ClassVar[dict[str, str]] = {"bar_full": "█", "bar_empty": "░", "ellipsis": "…"}
    ASCII_GLYPHS: ClassVar[dict[str, str]] = {"bar_full": "#", "bar_empty": ".", "ellipsis": "~"}
    GLYPHS: ClassVar[dict[str, str]] = UNICODE_GLYPHS
    """Drawing characters; the app picks `ASCII_GLYPHS` when `ui.ascii` is set."""

    cursor_row: reactive[int] = reactive(0, always_update=False, repaint=False)
    """Index of the highlighted row in display order."""

    class RowHighlighted(Message):
        """The cursor moved to another row (not sent when a poll merely redraws)."""

        def __init__(self, table: ResourceTable, key: str | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> ResourceTable:
            return self.table

    class RowSelected(Message):
        """`enter` on a row."""

        def __init__(self, table: ResourceTable, key: str) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> ResourceTable:
            return self.table

    def __init__(self, columns: Sequence[Column], *, name: str | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns = tuple(columns)
        self._rows: Sequence[Row] = []
        self._index: dict[str, int] = {}
        self._marked: set[str] = set()
        self._widths: list[int] = []
        self._visible: list[int] = []
        self._cache: LRUCache[tuple[object, ...], Strip] = LRUCache(1024)
        self.sort_column: str | None = None
        self.sort_reverse = False
        self._cursor_moved = False
        """Until the operator moves the cursor it stays on the first row while rows load."""

    # -- data -------------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def cursor_key(self) -> str | None:
        if 0 <= self.cursor_row < len(self._rows):
            rows = self._rows
            return rows.keys[self.cursor_row] if isinstance(rows, LazyRows) else (
                rows[self.cursor_row].key)
        return None

    @property
    def marked(self) -> frozenset[str]:
        return frozenset(self._marked)

    def row(self, key: str) -> Row | None:
        index = self._index.get(key)
        return None if index is None else self._rows[index]

    def row_keys(self) -> list[str]:
        """Row keys in display order."""
        return row_keys(self._rows)

    def set_rows(self, rows: Sequence[Row], index: dict[str, int] | None = None) -> None:
        """Replace every row (order changed, rows added or removed). The cursor keeps its key.

        `index` (each row's key to its position), when the caller keeps one for these rows,
        saves building it again (100k rows: ~15 ms); the table does not change it, nor a
        list or `LazyRows` of `rows`, which it keeps as given (a copy of 100k rows is a
        millisecond of the escape that brings the whole fleet back)."""
        old_key = self.cursor_key
        self._rows = rows if isinstance(rows, list | LazyRows) else list(rows)
        self._index = index if index is not None else {
            key: i for i, key in enumerate(row_keys(self._rows))}
        self._marked &= self._index.keys()
        self.virtual_size = Size(self._total_width(), len(self._rows) + 1)
        follow = old_key if self._cursor_moved else None
        new_cursor = self._index.get(follow, self.cursor_row) if follow else self.cursor_row
        self._set_cursor(min(new_cursor, max(0, len(self._rows) - 1)), announce=old_key is None)
        if old_key is not None and self.cursor_key != old_key:
            self.post_message(self.RowHighlighted(self, self.cursor_key))
        self.refresh()

    def replace_rows(self, rows: Sequence[Row]) -> Sequence[Row]:
        """New rows for the same keys in the same order (a poll changed values only): one
        swap, and only the visible lines that changed are redrawn (with `LazyRows`, only
        those rows are made), however many rows there are; returns the rows it replaced (no
        longer used). Other changes are `set_rows`."""
        if len(rows) != len(self._rows):
            raise ValueError("replace_rows needs the same keys in the same order")
        old, self._rows = self._rows, rows if isinstance(rows, list | LazyRows) else list(rows)
        top = int(self.scroll_offset.y)
        height = self.scrollable_content_region.height - 1
        for index in range(top, min(top + height, len(self._rows))):
            if old[index] != self._rows[index]:
                self._refresh_cells(index - top + 1, old[index], self._rows[index])
        return old

    def update_rows(self, rows: Iterable[Row]) -> int:
        """Replace rows in place by key (same order); redraw only visible changed lines.

        Returns how many rows changed. Unknown keys are ignored: adding rows is `set_rows`.
        """
        changed = 0
        top = int(self.scroll_offset.y)
        height = self.scrollable_content_region.height - 1
        mine: list[Row] | None = None  # the caller's rows are never changed: a copy
        for row in rows:
            index = self._index.get(row.key)
            if index is None:
                continue
            old = self._rows[index]
            if old == row:
                continue
            if mine is None:
                self._rows = mine = list(self._rows)
            mine[index] = row
            changed += 1
            if top <= index < top + height:
                self._refresh_cells(index - top + 1, old, row)
        return changed

    def _refresh_cells(self, line: int, old: Row, new: Row) -> None:
        """Repaint screen `line` from its first to its last changed cell (all of it if the
        row's style changed).

        Columns have fixed positions, so a changed cell never moves its neighbours. One span
        per line, not one per cell: Textual writes each dirty span of a line from the widget's
        left edge, so several spans on one line would send the line several times.
        """
        if not self._widths or old.stale != new.stale or len(old.cells) != len(new.cells):
            self._refresh_screen_line(line)
            return
        status_changed = old.status != new.status
        x = 0
        start = end = -1
        for i, width in zip(self._visible, self._widths, strict=False):
            if old.cells[i] != new.cells[i] or (status_changed and self.columns[i].status):
                start = x if start < 0 else start
                end = x + width
            x += width + 1
        if start >= 0:
            self.refresh(Region(start, line, end - start, 1))

    def _refresh_screen_line(self, line: int) -> None:
        """Repaint one line of the widget as it is on screen (0 is the header).

        Not `ScrollView.refresh_line`, which takes a line of the virtual content and would
        miss the row once the table is scrolled.
        """
        self.refresh(Region(0, line, self.size.width, 1))

    def toggle_mark(self, key: str | None = None) -> None:
        key = key or self.cursor_key
        if key is None:
            return
        self._marked.symmetric_difference_update({key})
        self._refresh_key(key)

    def clear_marks(self) -> None:
        self._marked.clear()
        self.refresh()

    def move_to(self, key: str) -> None:
        if key in self._index:
            self._move(self._index[key])

    # -- cursor -----------------------------------------------------------------------------

    def _set_cursor(self, index: int, *, announce: bool = True) -> None:
        index = max(0, min(index, len(self._rows) - 1)) if self._rows else 0
        previous = self.cursor_row
        self.cursor_row = index
        self._scroll_to_cursor()
        if previous != index:
            self._refresh_index(previous)
            self._refresh_index(index)
            if announce:
                self.post_message(self.RowHighlighted(self, self.cursor_key))

    def _scroll_to_cursor(self) -> None:
        height = max(1, self.scrollable_content_region.height - 1)
        top = int(self.scroll_offset.y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + height:
            self.scroll_to(y=self.cursor_row - height + 1, animate=False, immediate=True)

    def _refresh_key(self, key: str) -> None:
        index = self._index.get(key)
        if index is not None:
            self._refresh_index(index)

    def _refresh_index(self, index: int) -> None:
        line = index - int(self.scroll_offset.y) + 1
        if 1 <= line < self.scrollable_content_region.height:
            self._refresh_screen_line(line)

    def _move(self, index: int) -> None:
        """The operator moved the cursor: from now on it follows its row's key."""
        self._cursor_moved = True
        self._set_cursor(index)

    def action_cursor(self, delta: int) -> None:
        self._move(self.cursor_row + delta)

    def action_page(self, direction: int) -> None:
        self._move(self.cursor_row + direction * max(1, self.scrollable_content_region.height - 2))

    def action_first(self) -> None:
        self._move(0)

    def action_last(self) -> None:
        self._move(len(self._rows) - 1)

    def action_select(self) -> None:
        if self.cursor_key is not None:
            self.post_message(self.RowSelected(self, self.cursor_key))

    def on_click(self, event: object) -> None:
        y = getattr(event, "y", 0)
        if y >= 1:
            self._move(int(self.scroll_offset.y) + y - 1)

    # -- layout -----------------------------------------------------------------------------

    def _total_width(self) -> int:
        return max(1, self.scrollable_content_region.width)

    def on_resize(self) -> None:
        self._layout_columns(self.scrollable_content_region.width)
        self.virtual_size = Size(self._total_width(), len(self._rows) + 1)
        self._cache.clear()
        self._scroll_to_cursor()

    def _layout_columns(self, width: int) -> None:
        self._visible, self._widths = layout_columns(self.columns, width)

    # -- rendering --------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles_checked = False

    def _check_styles(self) -> None:
        """Forget the cached lines if a style they were drawn with changed (a theme).

        Not on every style update: focus moving into the filter box restyles the table (the
        cursor's colour follows focus), yet every other line looks the same; drawing them all
        again cost a frame per `/` and escape at 160x48. The cursor's line is keyed by its
        own style, which follows focus through a component class, not a `:focus` rule: a
        `:focus` rule changes the widget's styles, and Textual then repaints all of it."""
        self._styles_checked = True
        styles = (self.rich_style, *(self.get_component_rich_style(name, partial=True)
                                     for name in self._LINE_STYLES))
        if styles != self._line_styles:
            self._line_styles = styles
            self._cache.clear()

    _LINE_STYLES = tuple(sorted(COMPONENT_CLASSES - {"resource-table--cursor",
                                                      "resource-table--cursor-focus"}))
    _styles_checked = False
    _line_styles: tuple[Style, ...] = ()

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if not self._widths:
            self._layout_columns(width)
        if not self._styles_checked:
            self._check_styles()
        if y == 0:
            return self._header_strip(width)
        index = int(self.scroll_offset.y) + y - 1
        if index >= len(self._rows):
            return Strip.blank(width, self.rich_style)
        row = self._rows[index]
        cursor = index == self.cursor_row
        key = (row, width, cursor, row.key in self._marked,
               self.get_component_rich_style(self._cursor_class()) if cursor else None)
        strip = self._cache.get(key)
        if strip is None:
            strip = self._row_strip(row, width, cursor, row.key in self._marked)
            self._cache[key] = strip
        return strip

    def _cursor_class(self) -> str:
        return "resource-table--cursor-focus" if self.has_focus else "resource-table--cursor"

    def watch_has_focus(self, has_focus: bool) -> None:
        """Focus changes the cursor's colour only (`resource-table--cursor-focus`).

        Not `Widget.watch_has_focus`, which restyles the widget for `:focus` rules: no rule
        styles a `ResourceTable:focus` (keep it so), and the restyle (the table and its 18
        component classes) was a fifth of the frame of `/` and escape at 100k VMs."""
        self._refresh_index(self.cursor_row)  # the cursor's colour says where keys go

    def _on_focus(self, event: events.Focus) -> None:
        """`Widget._on_focus` without its repaint of the whole widget: focus changes the
        cursor's line only (`watch_has_focus`)."""
        event.prevent_default()
        self.has_focus = True
        if self.parent is not None:
            self.parent.post_message(events.DescendantFocus(self))

    def _on_blur(self, event: events.Blur) -> None:
        """`Widget._on_blur` without its repaint of the whole widget (see `_on_focus`)."""
        event.prevent_default()
        self.has_focus = False
        if self.parent is not None:
            self.parent.post_message(events.DescendantBlur(self))

    def _header_strip(self, width: int) -> Strip:
        style = self.get_component_rich_style("resource-table--header")
        labels = []
        for i in self._visible:
            label = self.columns[i].label
            if self.columns[i].key == self.sort_column:
                label += " v" if self.sort_reverse else " ^"
            labels.append(label)
        return self._strip(labels, width, style, None, None)

    def _row_strip(self, row: Row, width: int, cursor: bool, marked: bool) -> Strip:
        base = self.rich_style
        if row.stale:
            base += self.get_component_rich_style("resource-table--stale")
        if marked:
            base += self.get_component_rich_style("resource-table--marked")
        if cursor:
            base += self.get_component_rich_style(self._cursor_class())
        status_style = None
        if row.status and not row.stale:
            status_style = self.get_component_rich_style(f"status--{row.status}", partial=True)
        cells = [row.cells[i] if i < len(row.cells) else "" for i in self._visible]
        if marked and cells:
            cells[0] = "* " + cells[0]
        return self._strip(cells, width, base, status_style, row)

    def _strip(self, cells: Sequence[str], width: int, style: Style,
               status_style: Style | None, row: Row | None) -> Strip:
        segments = []
        used = 0
        for n, (i, cell_width) in enumerate(zip(self._visible, self._widths, strict=False)):
            column = self.columns[i]
            text = cells[n]
            if column.bar and row is not None:
                segments.extend(self._bar(text, cell_width, style))
                segments.append(Segment(" ", style))
                used += cell_width + 1
                continue
            if cell_len(text) > cell_width:
                text = set_cell_size(text, cell_width - 1) + self.GLYPHS["ellipsis"]
            elif column.align == "right":
                text = " " * (cell_width - cell_len(text)) + text
            else:
                text = set_cell_size(text, cell_width)
            cell_style = style + status_style if column.status and status_style else style
            segments.append(Segment(text, cell_style))
            segments.append(Segment(" ", style))
            used += cell_width + 1
        if used < width:
            segments.append(Segment(" " * (width - used), style))
        return Strip(merge_segments(segments), width).crop(0, width)

    def _bar(self, value: str, width: int, style: Style) -> list[Segment]:
        """A bar of `width` cells: filled blocks coloured by level, then the percentage."""
        try:
            ratio = float(value)
        except ValueError:
            return [Segment(set_cell_size("-", width), style)]
        label = f"{ratio * 100:4.0f}%"
        bar_width = max(0, width - len(label) - 1)
        filled = round(min(1.0, max(0.0, ratio)) * bar_width)
        level = "crit" if ratio >= 0.9 else "warn" if ratio >= 0.75 else "ok"
        fill_style = style + self.get_component_rich_style(f"resource-table--bar-{level}",
                                                           partial=True)
        empty_style = style + self.get_component_rich_style("resource-table--bar-empty",
                                                            partial=True)
        return [
            Segment(self.GLYPHS["bar_full"] * filled, fill_style),
            Segment(self.GLYPHS["bar_empty"] * (bar_width - filled), empty_style),
            Segment(set_cell_size(" " + label, width - bar_width), style),
        ]

