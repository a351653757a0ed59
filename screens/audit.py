"""The Audit screen (`5` / `:audit`): who did what to which VM, when, and how it ended.

Rows come from the store's audit log (newest first) and are re-read while the screen is shown,
so actions from this console, another console or the CLI all appear. Every value is drawn as
a plain table cell: a VM name or an error cause cannot style, link or escape anything.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Input, Label, Static

from screens.console_app import console_app
from screens.console_screen import ConsoleScreen
from widgets.footer import Footer
from widgets.resource_table import Column, ResourceTable, Row
from widgets.status_header import StatusHeader
from widgets.steady_input import SteadyInput

REFRESH_S = 2.0
PAGE = 500

COLUMNS = (
    Column("time", "TIME", 19),
    Column("who", "WHO", 10, drop=3),
    Column("action", "ACTION", 18),
    Column("target", "TARGET", 0, min_width=14),
    Column("status", "OUTCOME", 8, status=True),
    Column("duration", "TOOK", 7, align="right", drop=2),
    Column("error", "ERROR", 0, min_width=12, drop=1),
    Column("context", "CONTEXT", 10, drop=4),
)
_STATUS = {"ok": "running", "failed": "error", "refused": "paused", "started": "migrating"}


def audit_row(entry: Any) -> Row:
    """One audit entry as plain cells (`console.models.AuditEntry`)."""
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry.started_at))
    status = getattr(entry.status, "value", str(entry.status))
    duration = "-" if entry.duration_s is None else f"{entry.duration_s:.1f}s"
    params = entry.params if hasattr(entry, "params") else {}
    action = entry.action.removeprefix("vm.")
    if isinstance(params, dict) and params.get("snapshot"):
        action += f" {params['snapshot']}"
    error = " ".join(p for p in (entry.error_code, entry.error_message) if p)
    if entry.error_cause:
        error += f" ({entry.error_cause})"
    return Row(
        key=str(entry.id),
        cells=(when, entry.who, action, entry.target_name or entry.target_id,
               "unknown" if status == "started" and entry.finished_at is None else status,
               duration, error, entry.context),
        status=_STATUS.get(status, ""),
    )


class AuditScreen(ConsoleScreen):
    """`5` / `:audit`. `/` filters (`action:force_off`, `status:failed`, `target:web`, words)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", id="audit.filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="audit.clear"),
        Binding("ctrl+r", "reload", "Reload", show=False, id="audit.reload"),
    ]
    DEFAULT_CSS = """
    AuditScreen #audit-filter-bar { height: 1; display: none; background: $panel; }
    AuditScreen #audit-filter-bar.-active { display: block; }
    AuditScreen #audit-filter-bar Label { width: auto; padding: 0 1; color: $accent; }
    AuditScreen #audit-filter { border: none; height: 1; padding: 0; width: 1fr; }
    AuditScreen #audit-summary { height: 1; color: $foreground-muted; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__(name="audit")
        self.filter_text = ""
        self.entries: list[Any] = []
        self._loading = False
        self._again = False

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        yield ResourceTable(COLUMNS, id="audit")
        with Horizontal(id="audit-filter-bar"):
            yield Label("/")
            yield SteadyInput(placeholder="words, action:…, status:failed, target:…, who:…",
                        id="audit-filter")
        yield Static("", id="audit-summary")
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(REFRESH_S, self._tick)
        self.action_reload()

    def on_screen_resume(self) -> None:
        self.action_reload()

    def _tick(self) -> None:
        if self.app.screen is self:
            self.action_reload()

    def action_reload(self) -> None:
        """Re-read the log. Never cancels a read in flight (a store read cut off by a
        cancellation could leave its transaction open): one more read is queued instead."""
        if self._loading:
            self._again = True
            return
        self._loading = True
        self._load()

    @work(group="audit")
    async def _load(self) -> None:
        try:
            await self._read()
        finally:
            self._loading = False
        if self._again:
            self._again = False
            self.action_reload()

    async def _read(self) -> None:
        dispatcher = console_app(self.app).dispatcher
        log = dispatcher.audit if dispatcher is not None else None
        summary = self.query_one("#audit-summary", Static)
        if log is None or not hasattr(log, "audit"):
            summary.update(Text("No audit log is open."))
            return
        try:
            self.entries = list(await log.audit(limit=PAGE, filter_text=self.filter_text))
        except Exception as exc:
            summary.update(Text(f"Cannot read the audit log: {exc}"))
            return
        self.query_one(ResourceTable).set_rows([audit_row(e) for e in self.entries])
        text = f"{len(self.entries)} entries (newest first)"
        if self.filter_text:
            text += f"  filter: {self.filter_text}"
        summary.update(Text(text))

    def action_filter(self) -> None:
        self.query_one("#audit-filter-bar").add_class("-active")
        self.query_one("#audit-filter", Input).focus()

    def action_clear_filter(self) -> None:
        self.query_one("#audit-filter", Input).value = ""
        self.query_one("#audit-filter-bar").remove_class("-active")
        self.set_filter("")

    def set_filter(self, text: str) -> None:
        self.filter_text = text.strip()
        self.query_one(ResourceTable).focus()
        self.action_reload()

    @on(Input.Submitted, "#audit-filter")
    def _submitted(self, event: Input.Submitted) -> None:
        self.set_filter(event.value)
