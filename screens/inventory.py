"""The inventory: every VM of the context in one keyed table, with filter, sort and detail.

At 100k VMs the work a poll brings is kept off the operator's keys: the whole fleet's sort
order is kept (`_order`), so a filter typed or cleared only walks it (a stable sort of a subset
is the subset of the sorted whole: 37 instead of 71 ms of CPU to clear a filter at 100k); and a
large poll is compared with the last one in steps of `DIGEST_STEP` VMs, in a worker that lets
the loop serve keys between steps, then applied at once (the screen's state changes in one
step, so a key never sees half a poll). `make bench ARGS=latency` measures it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.timer import Timer
from textual.widgets import Input, Label

from console.fleet import query
from console.heap import discard
from console.models import VM, FleetSnapshot, VMState
from screens.console_screen import ConsoleScreen
from screens.rows import VM_COLUMNS, vm_row
from screens.run_action import VMActions, target_of, vm_action_bindings
from screens.vm_detail import VMDetailScreen
from widgets.footer import Footer
from widgets.format import sparkline
from widgets.resource_table import ResourceTable, Row
from widgets.status_header import StatusHeader
from widgets.steady_input import SteadyInput

SORTABLE = tuple(c.key for c in VM_COLUMNS)
FILTER_DEBOUNCE_S = 0.12
TREND_POINTS = 8
"""Polls a CPU sparkline shows (one glyph each)."""
DIGEST_STEP = 500
"""VMs compared per step of a large poll's diff (1-5 ms: a key needs several turns of the
event loop to reach the screen, each behind one step); a poll this size or smaller is applied
at once, as it arrives."""


class InventoryScreen(VMActions, ConsoleScreen):
    """`1` / `:inventory`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", id="inventory.filter"),
        Binding("s", "sort_next", "Sort", id="inventory.sort"),
        Binding("S", "sort_reverse", "Reverse", id="inventory.sort_reverse"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="inventory.clear"),
        *vm_action_bindings(),
    ]

    DEFAULT_CSS = """
    InventoryScreen #status-line { height: 1; }
    InventoryScreen #filter-bar { height: 1; width: 1fr; }
    InventoryScreen #filter-bar Label { width: auto; padding: 0 1; color: $accent; }
    InventoryScreen #filter { border: none; height: 1; padding: 0; width: 1fr; }
    InventoryScreen #summary { height: 1; width: auto; color: $foreground-muted; padding: 0 1; }
    InventoryScreen #position { height: 1; width: auto; color: $foreground-muted; padding: 0 1 0 0; }
    InventoryScreen #vms { scrollbar-size-vertical: 0; }
    """

    def __init__(self) -> None:
        super().__init__(name="inventory")
        self.filter_text = ""
        self.sort_column = "name"
        self.sort_reverse = False
        self._vms: dict[str, VM] = {}
        self._rows: dict[str, Row] = {}
        self._shown: list[str] = []
        self._order: list[str] | None = None
        """Every VM's key in the current sort order (None: sort again)."""
        self._full: list[Row] | None = None
        """The rows of `_order` (None: build again), what the table shows without a filter."""
        self._full_stale = 0
        self._full_index: dict[str, int] | None = None
        self._full_index_of: list[str] | None = None
        """The order `_full_index` (key -> position) was built for."""
        self._stale_shown = 0
        self._filtered_cursor: str | None = None
        """The row under the cursor when the filter changed (it stays if it still matches)."""
        self._match = query.matcher("")
        self._debounce: Timer | None = None
        self._filter_open = False
        self._position = ""
        """The operator opened the filter box (`/`) and has not closed it (escape, an empty
        enter). Kept here, not as a CSS class: a class change restyles the bar's widgets,
        a millisecond or two of every `/` and escape."""
        self._pending: FleetSnapshot | None = None
        self._digesting = False

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        table = ResourceTable(VM_COLUMNS, id="vms")
        table.sort_column = self.sort_column
        yield table
        with Horizontal(id="status-line"):  # always shown: `/` and escape change no layout
            with Horizontal(id="filter-bar"):
                yield Label("/")
                yield SteadyInput(placeholder="name, tag:env=prod, host:kvm, state:running …",
                                  id="filter")
            yield Label("", id="summary")
            yield Label("", id="position")
        yield Footer()

    def on_mount(self) -> None:
        self.watch(self.app, "snapshot", self._on_snapshot, init=True)

    @property
    def table(self) -> ResourceTable:
        return self.query_one("#vms", ResourceTable)

    # -- data -------------------------------------------------------------------------------

    def _on_snapshot(self, snapshot: FleetSnapshot | None) -> None:
        if snapshot is None:
            return
        if self._digesting or len(snapshot.vms) > DIGEST_STEP:
            self._pending = snapshot  # a newer poll replaces one not yet compared
            if not self._digesting:
                self._digesting = True
                self.run_worker(self._digest_pending(), group="inventory-digest")
            return
        for _ in self._digest(snapshot):
            pass

    async def _digest_pending(self) -> None:
        try:
            while self._pending is not None:
                snapshot, self._pending = self._pending, None
                for _ in self._digest(snapshot):
                    await asyncio.sleep(0)
        finally:
            self._digesting = False

    def _digest(self, snapshot: FleetSnapshot) -> Generator[None, None, None]:
        """Compare `snapshot` with the VMs shown, `DIGEST_STEP` VMs per step (yields between
        steps), then apply it in one step. When the keys, their order and the filter's result
        stay (a poll that changed figures only), the steps also build the table's new rows,
        so applying is a list swap however large the fleet."""
        new: dict[str, VM] = {}
        for n, vm in enumerate(snapshot.vms, 1):
            new[vm.key] = vm
            if n % DIGEST_STEP == 0:
                yield
        old = self._vms
        changed: list[VM] = []
        same: list[VM] = []
        for n, (key, vm) in enumerate(new.items(), 1):
            (same if old.get(key) == vm else changed).append(vm)
            if n % DIGEST_STEP == 0:
                yield
        rows: dict[str, Row] = {}
        trend = self._trends()
        for n, vm in enumerate(changed, 1):
            rows[vm.key] = vm_row(vm, trend(f"vm:{vm.key}"))
            if n % DIGEST_STEP == 0:
                yield
        grown: list[VM] = []
        for start in range(0, len(same), DIGEST_STEP):
            grown += self._growing_trends(same[start:start + DIGEST_STEP], rows)
            yield
        changed += grown
        order, shown, match = self._order, self._shown, self._match
        resort = new.keys() != old.keys() or order is None
        moved: bool | str = resort or (yield from self._moves(changed, old, match))
        if not moved and order is not None:
            merged = dict(self._rows)
            merged.update(rows)
            yield
            full_rows = yield from self._rows_of(order, merged)
            full_stale = yield from self._count_stale(order, new)
            if shown is order:
                shown_rows, stale = full_rows, full_stale
            else:
                shown_rows = yield from self._rows_of(shown, merged)
                stale = yield from self._count_stale(shown, new)
        if self._vms is not old:  # cannot happen (one digest at a time), but never mix polls
            return
        if not self.query("#vms"):
            return  # the app is closing: the screen's widgets are gone, its workers not yet
        self._vms = new
        if not moved and order is not None and self._order is order:
            # same keys, same order: the rows built in the steps hold
            old_rows, old_full = self._rows, self._full
            self._rows, self._full, self._full_stale = merged, full_rows, full_stale
            if self._shown is shown and self._match is match:
                self._stale_shown = stale
                replaced = self.table.replace_rows(shown_rows)
                self._update_summary()
            else:  # a key changed the filter meanwhile: without one the rows are at hand,
                self._rebuild()  # with one it is a walk in steps
                replaced = []
            # the last poll's VMs and rows, let go of a slice at a time
            discard(old, old_rows, *([old_full] if old_full is not None else []), replaced)
            return
        # VMs came, went or moved in the sort or the filter, or a key changed the sort
        # meanwhile: filter (and sort) again
        self._rows.update(rows)
        for gone in old.keys() - new.keys():
            self._rows.pop(gone, None)
        if resort or moved == "sort" or self._order is not order:
            self._order = None
        self._full = None
        self._rebuild()

    def _moves(self, changed: list[VM], old: dict[str, VM], match: Callable[[VM], bool]
               ) -> Generator[None, None, bool | str]:
        """Whether a changed VM moves in the sort (`"sort"`) or in or out of the filter
        (True), else False; in steps. A generator's return value (`yield from`)."""
        sort_key = query.SORT_KEYS[self.sort_column]
        refilter = False
        for n, vm in enumerate(changed, 1):
            was = old[vm.key]
            if sort_key(vm) != sort_key(was):
                return "sort"
            if not refilter and match(vm) != match(was):
                refilter = True
            if n % DIGEST_STEP == 0:
                yield
        return refilter

    @staticmethod
    def _rows_of(keys: list[str], rows: dict[str, Row]) -> Generator[None, None, list[Row]]:
        result: list[Row] = []
        for start in range(0, len(keys), DIGEST_STEP):
            result += [rows[key] for key in keys[start:start + DIGEST_STEP]]
            yield
        return result

    @staticmethod
    def _count_stale(keys: list[str], vms: dict[str, VM]) -> Generator[None, None, int]:
        stale = 0
        for start in range(0, len(keys), DIGEST_STEP):
            stale += sum(1 for key in keys[start:start + DIGEST_STEP] if vms[key].stale)
            yield
        return stale

    def _growing_trends(self, same: list[VM], rows: dict[str, Row]) -> list[VM]:
        """Of the VMs equal to their last poll, the running ones whose sparkline is still
        filling up: a steady CPU rate leaves the VM unchanged, but its history gained a point.
        Only rows with fewer than TREND_POINTS glyphs ask the history, so once the sparklines
        are full this is a length check per running VM. New rows go into `rows`."""
        grown = []
        trend_of = self._trends()
        for vm in same:
            row = self._rows.get(vm.key)
            if row is None or vm.state is not VMState.RUNNING or len(row.cells[-1]) >= TREND_POINTS:
                continue
            trend = trend_of(f"vm:{vm.key}")
            if trend != row.cells[-1]:
                rows[vm.key] = vm_row(vm, trend)
                grown.append(vm)
        return grown

    def _cpu_trend(self, target: str) -> str:
        """Sparkline of the target's recent CPU use, from the app's metrics history."""
        return self._trends()(target)

    def _trends(self) -> Callable[[str], str]:
        """`_cpu_trend` with the app's history looked up once (a digest asks 100k times)."""
        history = getattr(self.app, "metrics", None)
        if history is None:
            return lambda _target: ""
        tail = history.tail
        ascii_only = getattr(self.app, "ascii", False)

        def trend(target: str) -> str:
            values = tail(target, "cpu", TREND_POINTS)
            return sparkline(values, ascii_only=ascii_only) if values else ""

        return trend

    def _rebuild(self) -> None:
        """Filter and sort everything again (rows are reused, only order is recomputed; the
        whole fleet is sorted only when its order may have changed). Without a filter the
        table gets the whole order and its rows as kept (`_full`): clearing a filter at
        100k VMs builds no list."""
        if self._order is None:
            ordered = query.sort_vms(list(self._vms.values()), self.sort_column, self.sort_reverse)
            self._order = [vm.key for vm in ordered]
            self._full = None
        if self._order is not self._full_index_of:
            self._full_index = None
        vms = self._vms
        match = self._match
        table = self.table
        table.sort_column, table.sort_reverse = self.sort_column, self.sort_reverse
        if match is query.match_all:
            self._shown = self._order
            if self._full is None:
                self._full = [self._rows[key] for key in self._order]
                self._full_stale = sum(1 for vm in vms.values() if vm.stale)
            if self._full_index is None:
                self._full_index = {key: i for i, key in enumerate(self._order)}
                self._full_index_of = self._order
            self._stale_shown = self._full_stale
            table.set_rows(self._full, self._full_index)
        elif len(self._order) > DIGEST_STEP:
            cursor = self._filtered_cursor

            async def walk() -> None:  # a function, not a coroutine: a walk replaced before
                await self._filter_in_steps(cursor)  # it started leaves nothing unawaited

            self.run_worker(walk, group="inventory-filter",  # type: ignore[arg-type]
                            exclusive=True)  # (mypy infers Never for a function's result)
            return
        else:
            self._shown = [key for key in self._order if match(vms[key])]
            self._stale_shown = sum(1 for key in self._shown if vms[key].stale)
            table.set_rows([self._rows[key] for key in self._shown])
        self._update_summary()
        self._keep_cursor(self._filtered_cursor)

    def _update_summary(self) -> None:
        total = len(self._vms)
        shown = len(self._shown)
        stale = self._stale_shown
        text = f"{shown} of {total} VMs" if self.filter_text else f"{total} VMs"
        if stale:
            text += f"  {stale} stale"
        if marked := len(self.table.marked):
            text += f"  {marked} marked"
        text += f"  sort: {self.sort_column}{' (reversed)' if self.sort_reverse else ''}"
        self.query_one("#summary", Label).update(text)
        self._show_position()

    @on(ResourceTable.RowHighlighted, "#vms")
    def _show_position(self) -> None:
        """Where the cursor is, in place of a scrollbar: at 100k rows a scrollbar's thumb is one
        cell that says little, and redrawing its 45 lines cost a third of the frame of every
        key that changed the rows (escape: 30 -> 21 ms of CPU)."""
        table = self.table
        text = f"{table.cursor_row + 1}/{table.row_count}" if table.row_count else ""
        label = self.query_one("#position", Label)
        if text != self._position:  # a layout pass only when its width changes
            label.update(text, layout=len(text) != len(self._position))
            self._position = text

    def selected_vm(self) -> VM | None:
        key = self.table.cursor_key
        return None if key is None else self._vms.get(key)

    def vm(self, key: str) -> VM | None:
        return self._vms.get(key)

    # -- VM actions (the registry's keys; see screens/run_action.py) -------------------------

    def action_targets(self) -> list:  # type: ignore[type-arg]
        """Marked VMs (in table order), else the VM under the cursor."""
        marked = self.table.marked
        keys = [k for k in self._shown if k in marked] if marked else [self.table.cursor_key]
        return [target_of(self._vms[k]) for k in keys if k is not None and k in self._vms]

    def action_toggle_mark(self) -> None:
        self.table.toggle_mark()
        self.table.action_cursor(1)
        self._update_summary()

    def after_bulk(self) -> None:
        self.table.clear_marks()
        self._update_summary()

    # -- actions ----------------------------------------------------------------------------

    def action_filter(self) -> None:
        self._filter_open = True
        self.query_one("#filter", Input).focus()

    def action_clear_filter(self) -> None:
        if self.filter_text or self._filter_open:
            self.query_one("#filter", Input).value = ""
            self.set_filter("")
            self._filter_open = False
            self.table.focus()

    def show_filter(self, text: str) -> None:
        """Apply `text` as the filter and show it in the filter bar (used by other screens)."""
        self.query_one("#filter", Input).value = text
        self._filter_open = True
        self.set_filter(text)
        self.table.focus()

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip()
        fleet = getattr(self.app, "fleet", None)
        kinds = {name: b.kind for name, b in fleet.backends.items()} if fleet is not None else {}
        self._match = query.matcher(self.filter_text, kinds)
        self._filtered_cursor = self.table.cursor_key
        self._rebuild()
        self._filtered_cursor = None

    async def _filter_in_steps(self, before: str | None) -> None:
        """A large fleet is filtered `DIGEST_STEP` VMs per step (keys are served between
        steps; about 0.1 s in all at 100k VMs), then shown at once. A poll applied meanwhile
        makes it walk again; another filter or sort starts its own walk (this one is
        cancelled)."""
        while True:
            order, vms, rows_of, match = self._order, self._vms, self._rows, self._match
            if order is None:
                return
            shown: list[str] = []
            rows: list[Row] = []
            index: dict[str, int] = {}
            stale = 0
            for start in range(0, len(order), DIGEST_STEP):
                if self._vms is not vms or self._rows is not rows_of:
                    break  # a poll was applied (the old VMs are being let go of): again
                found = [key for key in order[start:start + DIGEST_STEP] if match(vms[key])]
                stale += sum(1 for key in found if vms[key].stale)
                index.update(zip(found, range(len(shown), len(shown) + len(found)), strict=True))
                rows += [rows_of[key] for key in found]
                shown += found
                await asyncio.sleep(0)
            if self._match is not match:
                return  # no filter now (shown at once), or another walk
            if self._order is order and self._vms is vms and self._rows is rows_of:
                break
        if not self.query("#vms"):
            return  # the app is closing
        self._shown, self._stale_shown = shown, stale
        self.table.set_rows(rows, index)
        self._update_summary()
        self._keep_cursor(before)

    def _keep_cursor(self, before: str | None) -> None:
        if before is not None and self.table.row(before) is None:
            self.table.action_first()  # the VM under the cursor was filtered out: first match

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        if self._debounce is not None:
            self._debounce.stop()
        value = event.value
        if value.strip() == self.filter_text:
            return  # escape cleared the box and the filter: nothing to walk or redraw again
        self._debounce = self.set_timer(FILTER_DEBOUNCE_S, lambda: self.set_filter(value))

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        if self._debounce is not None:
            self._debounce.stop()
        self.set_filter(event.value)
        if not event.value.strip():
            self._filter_open = False
        self.table.focus()

    def action_sort_next(self) -> None:
        index = SORTABLE.index(self.sort_column)
        self.sort_by(SORTABLE[(index + 1) % len(SORTABLE)])

    def action_sort_reverse(self) -> None:
        self.sort_by(self.sort_column, not self.sort_reverse)

    def sort_by(self, column: str, reverse: bool = False) -> None:
        self.sort_column, self.sort_reverse = column, reverse
        self._order = None
        self._rebuild()

    @on(ResourceTable.RowSelected, "#vms")
    def _open_detail(self, event: ResourceTable.RowSelected) -> None:
        self.app.push_screen(VMDetailScreen(event.key))
