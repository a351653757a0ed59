"""The top line: context, read-only badge, poll age and the health of each source."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from widgets.format import coarse_age


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


def header_parts(s: HeaderState, now: float) -> list[tuple[str, str]]:
    """(text, component class or "") pieces of the line; ages are coarse (see `coarse_age`)."""
    parts: list[tuple[str, str]] = [(" NovaCron ", "status-header--title"),
                                    (f"ctx:{s.context} ", "status-header--title")]
    if s.production:
        parts += [(" PROD ", "status-header--production"), (" ", "")]
    if s.read_only:
        parts += [(" READ-ONLY ", "status-header--badge"), (" ", "")]
    parts.append((f"{s.vm_count} VMs/{s.host_count} hosts ", ""))
    if s.polled_at is None:
        parts.append(("polling... ", ""))
    else:
        parts.append((f"poll {coarse_age(now - s.polled_at)} ago ", ""))
    if not s.sources:
        return parts
    bad = [src for src in s.sources if not src.ok]
    if not bad:
        parts.append((f"sources ok {len(s.sources)}/{len(s.sources)}", "status-header--ok"))
        return parts
    parts.append((f"STALE {len(bad)}/{len(s.sources)}:", "status-header--stale"))
    details = []
    for src in bad:
        if src.last_success is None:
            details.append(f"{src.name} (down)")
        else:
            details.append(f"{src.name} ({coarse_age(now - src.last_success)})")
    parts.append((" " + ", ".join(details), ""))
    return parts


class StatusHeader(Widget):
    """One line. A clock tick repaints it only when its text actually changes, so an idle
    console writes nothing to the terminal (ages are shown in coarse steps)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "status-header--title",
        "status-header--badge",
        "status-header--production",
        "status-header--ok",
        "status-header--stale",
    }

    DEFAULT_CSS = """
    StatusHeader { height: 1; background: $header-background; color: $header-foreground; }
    StatusHeader.-production { background: $production-accent; color: $header-foreground; }
    StatusHeader > .status-header--title { text-style: bold; }
    StatusHeader > .status-header--badge { text-style: bold reverse; }
    StatusHeader > .status-header--production { text-style: bold reverse; }
    StatusHeader > .status-header--ok { text-style: bold; }
    StatusHeader > .status-header--stale { text-style: bold reverse; }
    """

    state: reactive[HeaderState] = reactive(HeaderState, repaint=False)
    """What to show; set from the fleet snapshot (repaints only if the line's text changes)."""

    clock = staticmethod(time.time)
    """Where "now" comes from (tests fix it for deterministic pictures)."""

    def __init__(self, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._shown = ""

    def on_mount(self) -> None:
        self.set_interval(1.0, self._tick)
        if hasattr(self.app, "header_state"):
            self.watch(self.app, "header_state", self._follow, init=True)

    def _follow(self, state: HeaderState) -> None:
        """Follow the app's `header_state`, so every screen's header shows the same thing."""
        self.state = state

    def _plain(self) -> str:
        return "".join(text for text, _ in header_parts(self.state, self.clock()))

    def _tick(self) -> None:
        if self._plain() != self._shown:
            self.refresh()

    def watch_state(self, state: HeaderState) -> None:
        self.set_class(state.production, "-production")
        self._tick()

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        parts = header_parts(self.state, self.clock())
        for piece, component in parts:
            text.append(piece, style=self.get_component_rich_style(component, partial=True)
                        if component else "")
        self._shown = "".join(piece for piece, _ in parts)
        return text
