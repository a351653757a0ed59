"""The Activity screen (`:activity`): every console's actions as they happen, this one's too.

Fed by the store's activity feed (`console.store.activity`: LISTEN/NOTIFY on PostgreSQL,
polling on SQLite), which the app follows from start-up and keeps the last events of in
`app.activity`. Newest first; other consoles' events in this context also come as toasts.
Every value is a plain table cell (names were made plain text by the store).
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.widgets import Static

from screens.console_app import console_app
from screens.console_screen import ConsoleScreen
from widgets.footer import Footer
from widgets.resource_table import Column, ResourceTable, Row
from widgets.status_header import StatusHeader

REFRESH_S = 0.5

COLUMNS = (
    Column("when", "SEEN", 8),
    Column("who", "WHO", 22, drop=2),
    Column("what", "WHAT", 0, min_width=30),
    Column("status", "STATE", 10, status=True),
    Column("context", "CONTEXT", 10, drop=1),
)
_STATUS = {"ok": "running", "done": "running", "failed": "error", "refused": "paused",
           "cancelled": "paused", "started": "migrating", "running": "migrating"}


def activity_row(seen: str, event: Any) -> Row:
    """One `console.store.Activity` as plain cells ('you' for this console's own)."""
    who = "you" if event.mine else f"{event.who}@{event.hostname}"
    return Row(key=f"{event.kind}-{event.id}-{event.status}",
               cells=(seen, who, event.describe().partition(" ")[2], event.status,
                      event.context),
               status=_STATUS.get(event.status, ""))


class ActivityScreen(ConsoleScreen):
    """`:activity`. Read-only: what happened is in the Audit screen (`5`) for good."""

    BINDINGS: ClassVar[list[BindingType]] = []

    DEFAULT_CSS = """
    ActivityScreen #activity-summary { height: 1; color: $foreground-muted; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__(name="activity")
        self._shown = -1

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        yield ResourceTable(COLUMNS, id="activity")
        yield Static("", id="activity-summary")
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(REFRESH_S, self._refresh)
        self._refresh()

    def on_screen_resume(self) -> None:
        self._refresh()

    def _refresh(self) -> None:
        app = console_app(self.app)
        feed = app.activity
        if app.activity_count == self._shown:
            return
        self._shown = app.activity_count
        self.query_one(ResourceTable).set_rows(
            [activity_row(seen, event) for seen, event in reversed(feed)])
        where = app.store.where if app.store is not None else "no store"
        summary = (f"{len(feed)} recent events from every console on {where}"
                   if app.store is not None else "No store is open: no activity to follow.")
        self.query_one("#activity-summary", Static).update(Text(summary))
