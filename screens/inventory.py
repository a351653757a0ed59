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
from console.models import VM, FleetSnapshot
from screens.console_screen import ConsoleScreen
from screens.rows import VM_COLUMNS, vm_row
from screens.run_action import VMActions, target_of, vm_action_bindings
from screens.vm_detail import VMDetailScreen
from widgets.footer import Footer
from widgets.format import sparkline
from widgets.resource_table import LazyRows, ResourceTable, Row
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
        Binding("slash", "filter", "Filter", id="inventory.filter", priority=True),
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
        self._made: dict[str, Row] = {}
        """The rows made so far for `_vms` (on demand: `LazyRows`); a new poll starts anew."""
        self._make: Callable[[str], Row] = lambda key: vm_row(self._vms[key])
        self._retired: list[dict[str, VM] | dict[str, Row]] = []
        """Earlier polls' VMs and rows, let go of once the table shows none of their rows."""
        self._table_vms: dict[str, VM] | None = None
        """The VMs the table's rows are made from (it may still show an earlier poll's while
        a filter walks the new one)."""
        self._shown: list[str] = []
        self._order: list[str] | None = None
        """Every VM's key in the current sort order (None: sort again)."""
        self._full: LazyRows | None = None
        """The rows of `_order` (None: again), what the table shows without a filter."""
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
        """The operator opened the filter box (`/`) and has not closed it (escape, an empty
        enter). Kept here, not as a CSS class: a class change restyles the bar's widgets,
        a millisecond or two of every `/` and escape."""
        self._position = ""
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
        stay (a poll that changed figures only), applying is a swap of `LazyRows` however
        large the fleet: the rows on screen are made again (figures, sparklines), the others
        when they are first drawn."""
        new: dict[str, VM] = {}
        for n, vm in enumerate(snapshot.vms, 1):
            new[vm.key] = vm
            if n % DIGEST_STEP == 0:
                yield
        old = self._vms
        changed: list[VM] = []
        for n, (key, vm) in enumerate(new.items(), 1):
            if old.get(key) != vm:
                changed.append(vm)
            if n % DIGEST_STEP == 0:
                yield
        order, shown, match = self._order, self._shown, self._match
        resort = new.keys() != old.keys() or order is None
        moved: bool | str = resort or (yield from self._moves(changed, old, match))
        if not moved and order is not None:
            full_stale = yield from self._count_stale(order, new)
            stale = full_stale if shown is order else (yield from self._count_stale(shown, new))
        if self._vms is not old:  # cannot happen (one digest at a time), but never mix polls
            return
        if not self.query("#vms"):
            return  # the app is closing: the screen's widgets are gone, its workers not yet
        old_made = self._made
        self._vms, self._made = new, {}
        self._make = self._row_maker(new)
        if not moved and order is not None and self._order is order:
            # same keys, same order: only the rows are new
            self._full = LazyRows(order, self._make, self._made)
            self._full_stale = full_stale
            if self._shown is shown and self._match is match:
                self._stale_shown = stale
                self._show(self._full if shown is order
                           else LazyRows(shown, self._make, self._made), replace=True)
                self._update_summary()
            else:  # a key changed the filter meanwhile: without one the rows are at hand,
                self._rebuild()  # with one it is a walk in steps
            self._retire(old, old_made)
            return
        # VMs came, went or moved in the sort or the filter, or a key changed the sort
        # meanwhile: filter (and sort) again
        if resort or moved == "sort" or self._order is not order:
            self._order = None
        self._full = None
        self._rebuild()
        self._retire(old, old_made)

    def _show(self, rows: LazyRows, index: dict[str, int] | None = None, *,
              replace: bool = False) -> None:
        """Put rows of the current VMs in the table (`replace`: same keys, same order)."""
        if replace:
            self.table.replace_rows(rows)
        else:
            self.table.set_rows(rows, index)
        self._table_vms = self._vms
        self._retire()

    def _retire(self, *containers: dict[str, VM] | dict[str, Row]) -> None:
        """Let go of earlier polls' VMs and rows (a slice at a time, `console.heap.discard`)
        once the table shows rows of the current VMs only: until then, a row it still shows
        may be made from them."""
        self._retired += containers
        if self._retired and self._table_vms is self._vms:
            discard(*self._retired)
            self._retired = []

    def _row_maker(self, vms: dict[str, VM]) -> Callable[[str], Row]:
        """How a row of `vms` is made when first drawn: its VM and CPU sparkline now."""
        trend = self._trends()

        def make(key: str) -> Row:
            return vm_row(vms[key], trend(f"vm:{key}"))

        return make

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
    def _count_stale(keys: list[str], vms: dict[str, VM]) -> Generator[None, None, int]:
        stale = 0
        for start in range(0, len(keys), DIGEST_STEP):
            stale += sum(1 for key in keys[start:start + DIGEST_STEP] if vms[key].stale)
            yield
        return stale

    def _trends(self) -> Callable[[str], str]:
        """A target's CPU sparkline from the app's metrics history, looked up once per poll
        (`_row_maker`), not once per row made."""
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
        """Filter and sort everything again (rows made are reused, only order is recomputed;
        the whole fleet is sorted only when its order may have changed). Without a filter
        the table gets the whole order and its rows as kept (`_full`): clearing a filter at
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
                self._full = LazyRows(self._order, self._make, self._made)
                self._full_stale = sum(1 for vm in vms.values() if vm.stale)
            if self._full_index is None:
                self._full_index = {key: i for i, key in enumerate(self._order)}
                self._full_index_of = self._order
            self._stale_shown = self._full_stale
            self._show(self._full, self._full_index)
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
            self._show(LazyRows(self._shown, self._make, self._made))
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
        """Focus the filter box at once. `/` is a priority binding, so it runs when the app
        receives it, before the keys behind it are routed: over SSH, `/pg` typed quickly
        arrives in one packet, and the `p` and `g` went to the table and were lost."""
        self._filter_open = True
        self.set_focus(self.query_one("#filter", Input))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "filter":  # in the box, `/` is a character of the filter
            focused = self.focused
            return not (isinstance(focused, Input) and focused.id == "filter")
        return super().check_action(action, parameters)

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
            order, vms, match = self._order, self._vms, self._match
            if order is None:
                return
            shown: list[str] = []
            index: dict[str, int] = {}
            stale = 0
            for start in range(0, len(order), DIGEST_STEP):
                if self._vms is not vms:
                    break  # a poll was applied (the old VMs are being let go of): again
                found = [key for key in order[start:start + DIGEST_STEP] if match(vms[key])]
                stale += sum(1 for key in found if vms[key].stale)
                index.update(zip(found, range(len(shown), len(shown) + len(found)), strict=True))
                shown += found
                await asyncio.sleep(0)
            if self._match is not match:
                return  # no filter now (shown at once), or another walk
            if self._order is order and self._vms is vms:
                break
        if not self.query("#vms"):
            return  # the app is closing
        self._shown, self._stale_shown = shown, stale
        self._show(LazyRows(shown, self._make, self._made), index)
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
