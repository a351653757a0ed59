"""The top line: context, read-only badge, poll age and the health of each source."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from widgets.format import human_duration


@dataclass(frozen=True, slots=True)
class SourceStatus:
    name: str
    ok: bool
    last_success: float | None
    error: str = ""


@dataclass(frozen=True, slots=True)
class HeaderState:
    """Everything the header shows; the app builds it from the fleet snapshot."""

    context: str = ""
    read_only: bool = False
    production: bool = False
    polled_at: float | None = None
    sources: tuple[SourceStatus, ...] = ()
    vm_count: int = 0
    host_count: int = 0


class StatusHeader(Widget):
    """One line; repaints each second only because the poll age text changes."""

    DEFAULT_CSS = """
    StatusHeader { height: 1; background: $panel; color: $foreground; }
    StatusHeader.-production { background: $production-accent; color: $text; }
    """

    state: reactive[HeaderState] = reactive(HeaderState, layout=False)
    """What to show; set from the fleet snapshot."""

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick)
        if hasattr(self.app, "header_state"):
            self.watch(self.app, "header_state", self._follow, init=True)

    def _follow(self, state: HeaderState) -> None:
        """Follow the app's `header_state`, so every screen's header shows the same thing."""
        self.state = state

    def _tick(self) -> None:
        self.refresh()

    def watch_state(self, state: HeaderState) -> None:
        self.set_class(state.production, "-production")

    def render(self) -> Text:
        s = self.state
        now = time.time()
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(" NovaCron ", style="bold")
        text.append(f"ctx:{s.context} ", style="bold")
        if s.read_only:
            text.append(" READ-ONLY ", style="reverse bold")
            text.append(" ")
        text.append(f"{s.vm_count} VMs/{s.host_count} hosts ")
        age = None if s.polled_at is None else now - s.polled_at
        text.append(f"poll {human_duration(age)} ago " if age is not None else "polling… ")
        bad = [src for src in s.sources if not src.ok]
        if not s.sources:
            return text
        if not bad:
            text.append(f"sources ok {len(s.sources)}/{len(s.sources)}", style="bold")
        else:
            text.append(f"STALE {len(bad)}/{len(s.sources)}: ", style="bold reverse")
            parts = []
            for src in bad:
                if src.last_success is None:
                    parts.append(f"{src.name} (down)")
                else:
                    parts.append(f"{src.name} ({human_duration(now - src.last_success)})")
            text.append(" " + ", ".join(parts))
        return text
