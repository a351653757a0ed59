"""The migration board (`3` / `:migrations`): queued / running / done / failed columns.

Cards are redrawn from the tracker twice a second, and only when the tracker changed; the
selection survives every redraw. `c` cancels the selected migration (abort job; refused in
post-copy, as libvirt requires), `p` switches it to post-copy, `x` clears finished cards.
Migrations started outside this console (another console, `virsh migrate`) are adopted from
the fleet snapshots the app receives, and shown and cancelled like the others. Below them, the
cloud's long-running operations (an Azure power-off: VM, action, status, elapsed) from the
app's `OperationsFeed`, including those resumed after a restart; `x` clears finished ones too.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import Reactive
from textual.widgets import Label, Static

from console.actions.operations import OperationRow, OperationsFeed
from console.actions.resume import resume_unfinished
from console.errors import Code, NovaError
from console.migration.adopt import AdoptionWatch
from console.migration.dispatch import dispatcher_door
from console.migration.history import History
from console.migration.state import COLUMNS, MigrationState
from console.migration.tracker import MigrationTracker
from screens.console_app import console_app
from screens.console_screen import ConsoleScreen
from widgets.footer import Footer
from widgets.migration_card import MigrationCard
from widgets.status_header import StatusHeader

REFRESH_S = 0.5


def tracker_for(app: Any) -> MigrationTracker:
    """The app's one tracker, created on first use (door: the dispatcher; history: the store)."""
    tracker = getattr(app, "migrations", None)
    if isinstance(tracker, MigrationTracker):
        return tracker

    async def door(state: MigrationState, call: Any, params: dict[str, object],
                   action: str) -> None:
        dispatcher = console_app(app).dispatcher
        if dispatcher is None:
            raise NovaError(Code.BACKEND_ERROR, "actions are not ready yet", "try again")
        await dispatcher_door(dispatcher)(state, call, params, action)

    store = getattr(app, "store", None)  # a board without a store keeps no history
    history = History(store, lambda: app.fleet.backends) if store is not None else None
    tracker = MigrationTracker(lambda: app.fleet.backends, context=app.fleet.context,
                               history=history, door=door)
    app.migrations = tracker
    adopt_from_snapshots(app, tracker)
    return tracker


def adopt_from_snapshots(app: Any, tracker: MigrationTracker) -> None:
    """Show migrations started outside this console: every snapshot the app receives is
    looked at (`console.migration.adopt`), from now on and the current one."""
    if not isinstance(getattr(type(app), "snapshot", None), Reactive):
        return  # an app without fleet snapshots (a test harness)
    watch = app.migration_adoption = AdoptionWatch(tracker)
    told: set[str] = set()

    def tell(state: MigrationState) -> None:
        if state.adopted and state.id not in told:
            told.add(state.id)
            app.notify(f"{state.vm_name}: migration {state.source} → {state.target} started "
                       "outside this console; following it on the board (3)", timeout=6,
                       markup=False)

    tracker.subscribe(tell)
    app.watch(app, "snapshot", watch.feed, init=False)
    watch.feed(app.snapshot)


async def recover_migrations(app: Any) -> None:
    """At start: re-read from the hosts the migrations a previous console never saw end."""
    tracker = tracker_for(app)
    try:
        found = await tracker.recover()
    except Exception as exc:  # the board must open even if the history cannot be read
        app.notify(f"Could not re-read unfinished migrations: {exc}", severity="warning",
                   markup=False)
        return
    if found:
        app.notify(f"Re-reading {len(found)} migration(s) left unfinished by a previous "
                   "console: see the board (3)", timeout=6)


async def resume_operations(app: Any) -> None:
    """At start: follow to their end the operations a previous console stopped watching
    (`console.actions.resume`); they show on the board meanwhile."""
    dispatcher = getattr(app, "dispatcher", None)
    if dispatcher is None:
        return
    try:
        resumed = await resume_unfinished(dispatcher)
    except Exception as exc:  # the console must open even if the audit cannot be read
        app.notify(f"Could not resume unfinished operations: {exc}", severity="warning",
                   markup=False)
        return
    for done in resumed:
        if done.skipped:
            continue
        outcome = "done" if done.error is None else f"failed: {done.error}"
        app.notify(f"{done.target.name}: {done.action} left running by a previous console, "
                   f"watched to its end: {outcome}", markup=False, timeout=8,
                   severity="information" if done.error is None else "error")


def operation_table(rows: list[OperationRow], names: dict[str, str]) -> Table:
    """VM, action, status, elapsed (and what to know) of each operation."""
    table = Table(title="Operations", title_justify="left", expand=True, box=None,
                  padding=(0, 1), header_style="bold")
    for column in ("VM", "ACTION", "STATUS", "ELAPSED", ""):
        table.add_column(column, no_wrap=column != "")
    for row in rows:
        op = row.op
        status = Text(op.status, style="green" if op.status == "Succeeded" else
                      "yellow" if not op.done else "red")
        table.add_row(names.get(row.key) or op.vm_id.rsplit("/", 1)[-1],
                      op.action.replace("_", " "), status, f"{row.elapsed_s():.0f} s",
                      op.error or op.note)
    return table


class MigrationsScreen(ConsoleScreen):
    """`3` / `:migrations`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "cancel_migration", "Cancel", id="migrations.cancel"),
        Binding("p", "post_copy", "Post-copy", id="migrations.post_copy"),
        Binding("x", "clear_finished", "Clear done", id="migrations.clear"),
        Binding("down,j", "move(1)", "Next", show=False, id="migrations.next"),
        Binding("up,k", "move(-1)", "Previous", show=False, id="migrations.previous"),
        Binding("right,l", "column(1)", "Next column", show=False, id="migrations.right"),
        Binding("left,h", "column(-1)", "Previous column", show=False, id="migrations.left"),
    ]

    DEFAULT_CSS = """
    MigrationsScreen #board { height: 1fr; }
    MigrationsScreen .column { width: 1fr; height: 1fr; border-right: vkey $panel; }
    MigrationsScreen .column-title { height: 1; text-style: bold; padding: 0 1;
        background: $panel; width: 1fr; }
    MigrationsScreen #board-summary { height: 1; color: $foreground-muted; padding: 0 1; }
    MigrationsScreen #operations { height: auto; max-height: 12; padding: 0 1;
        border-top: hkey $panel; }
    MigrationsScreen VerticalScroll { scrollbar-size-vertical: 1; }
    """

    def __init__(self) -> None:
        super().__init__(name="migrations")
        self._version = -1
        self._ops_version = -1
        self._names: dict[str, str] = {}
        self._cards: dict[str, MigrationCard] = {}
        self._where: dict[str, str] = {}
        self.selected: str | None = None

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        with Horizontal(id="board"):
            for column in COLUMNS:
                with Vertical(classes="column"):
                    yield Label(column, id=f"title-{column}", classes="column-title")
                    yield VerticalScroll(id=f"col-{column}")
        yield Static("", id="operations")
        yield Label("", id="board-summary")
        yield Footer()

    @property
    def tracker(self) -> MigrationTracker:
        return tracker_for(self.app)

    def on_mount(self) -> None:
        self.set_interval(REFRESH_S, self.refresh_board)
        self.refresh_board()

    def on_screen_resume(self) -> None:
        self.refresh_board()

    # -- drawing ----------------------------------------------------------------------------

    def ordered(self) -> list[MigrationState]:
        """Column by column, oldest first: the order `j`/`k` walk."""
        states = self.tracker.states()
        return [s for column in COLUMNS for s in states if s.column == column]

    @property
    def operations(self) -> OperationsFeed | None:
        feed = getattr(self.app, "operations", None)
        return feed if isinstance(feed, OperationsFeed) else None

    def refresh_operations(self) -> None:
        """Redrawn while one runs (its elapsed time moves) or when the feed changed."""
        feed = self.operations
        if feed is None or (feed.version == self._ops_version and not feed.running):
            return
        self._ops_version = feed.version
        rows = feed.rows()
        panel = self.query_one("#operations", Static)
        panel.display = bool(rows)
        missing = {row.key for row in rows} - self._names.keys()
        snapshot = getattr(self.app, "snapshot", None)
        if missing and snapshot is not None:  # one pass over the fleet per new VM, not per redraw
            self._names.update({key: vm.name for vm in snapshot.vms
                                if (key := f"{vm.backend}/{vm.id}") in missing})
        panel.update(operation_table(rows, self._names) if rows else "")

    def refresh_board(self) -> None:
        self.refresh_operations()
        tracker = self.tracker
        if tracker.version == self._version:
            return
        self._version = tracker.version
        states = {s.id: s for s in tracker.states()}
        for gone in self._cards.keys() - states.keys():
            self._cards.pop(gone).remove()
            self._where.pop(gone, None)
        fresh = [s for s in states.values() if s.id not in self._cards]
        if fresh:  # a migration just started (here or re-read): it is what the operator watches
            self.selected = max(fresh, key=lambda s: s.queued_at).id
        for state in self.ordered():
            card = self._cards.get(state.id)
            if card is not None and self._where[state.id] != state.column:
                card.remove()
                card = None
            if card is None:
                card = self._cards[state.id] = MigrationCard(state)
                self._where[state.id] = state.column
                self.query_one(f"#col-{state.column}", VerticalScroll).mount(card)
            else:
                card.show(state)
        counts = {c: sum(1 for s in states.values() if s.column == c) for c in COLUMNS}
        for column, n in counts.items():
            self.query_one(f"#title-{column}", Label).update(Text(f"{column} ({n})"))
        if self.selected not in states:
            order = self.ordered()
            running = [s for s in order if s.active]
            self.selected = (running or order)[0].id if order else None
        self._mark_selected()
        warn = sum(1 for s in states.values() if s.warnings)
        self.query_one("#board-summary", Label).update(Text(
            f"{counts['running'] + counts['queued']} active, {counts['done']} done, "
            f"{counts['failed']} failed" + (f", {warn} with warnings" if warn else "")
            + "   c cancel  p post-copy  x clear done  j/k select"))

    def _mark_selected(self) -> None:
        for key, card in self._cards.items():
            card.set_class(key == self.selected, "-selected")
        chosen = self._cards.get(self.selected or "")
        if chosen is not None and chosen.is_mounted:
            chosen.scroll_visible(animate=False)

    # -- keys -------------------------------------------------------------------------------

    def action_move(self, step: int) -> None:
        order = [s.id for s in self.ordered()]
        if not order:
            return
        index = order.index(self.selected) if self.selected in order else -step
        self.selected = order[max(0, min(len(order) - 1, index + step))]
        self._mark_selected()

    def action_column(self, step: int) -> None:
        order = self.ordered()
        current = next((s for s in order if s.id == self.selected), None)
        start = COLUMNS.index(current.column) if current is not None else 0
        for offset in range(1, len(COLUMNS)):
            column = COLUMNS[(start + step * offset) % len(COLUMNS)]
            first = next((s for s in order if s.column == column), None)
            if first is not None:
                self.selected = first.id
                self._mark_selected()
                return

    def _selected_state(self) -> MigrationState | None:
        return self.tracker.get(self.selected) if self.selected else None

    async def action_cancel_migration(self) -> None:
        state = self._selected_state()
        if state is None or not state.active:
            self.notify("Select a running migration to cancel", severity="warning", timeout=3)
            return
        try:
            await self.tracker.cancel(state.id)
        except NovaError as err:
            self.notify(str(err), severity="error", markup=False)
            return
        self.notify(f"Cancelling the migration of {state.vm_name}: it stays on {state.source}",
                    timeout=4, markup=False)

    async def action_post_copy(self) -> None:
        state = self._selected_state()
        if state is None or not state.active:
            self.notify("Select a running migration", severity="warning", timeout=3)
            return
        try:
            await self.tracker.start_post_copy(state.id)
        except NovaError as err:
            self.notify(str(err), severity="error", markup=False)
            return
        self.notify(f"{state.vm_name}: switched to post-copy", timeout=4, markup=False)

    def action_clear_finished(self) -> None:
        self.tracker.forget_finished()
        if self.operations is not None:
            self.operations.forget_finished()
        self.refresh_board()
