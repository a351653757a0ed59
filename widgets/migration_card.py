"""One migration as a card on the board: VM, source → target, phase, bar, figures, warnings.

The card knows nothing of backends or the tracker: it draws anything shaped like
`CardData` (the tracker's `MigrationState` is). Names are untrusted: every line is a `Text`.
"""

from __future__ import annotations

from typing import Protocol

from rich.text import Text
from textual.widgets import Static

from widgets.format import human_bytes

BAR_WIDTH = 14


class ProgressData(Protocol):
    @property
    def data_total(self) -> int: ...
    @property
    def data_processed(self) -> int: ...
    @property
    def data_remaining(self) -> int: ...
    @property
    def throughput_bps(self) -> float: ...
    @property
    def dirty_rate_bps(self) -> float: ...
    @property
    def iteration(self) -> int: ...
    @property
    def expected_downtime_ms(self) -> int: ...
    @property
    def elapsed_s(self) -> float: ...


class CardData(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def vm_name(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def percent(self) -> float: ...
    @property
    def eta_s(self) -> float | None: ...
    @property
    def warnings(self) -> tuple[str, ...]: ...
    @property
    def error(self) -> str: ...
    @property
    def note(self) -> str: ...

    @property
    def phase(self) -> object: ...
    @property
    def progress(self) -> ProgressData | None: ...
    @property
    def active(self) -> bool: ...
    @property
    def duration_s(self) -> float | None: ...


def rate(bps: float) -> str:
    return f"{human_bytes(bps)}/s"


def secs(s: float | None) -> str:
    if s is None:
        return "-"
    if s < 60:
        return f"{s:.1f}s"
    return f"{int(s // 60)}m{int(s % 60):02d}s"


def bar(percent: float, width: int = BAR_WIDTH) -> str:
    full = round(width * max(0.0, min(100.0, percent)) / 100)
    return "█" * full + "░" * (width - full)


def short(n: float) -> str:
    """'119M', '1.2G': sizes for a narrow card."""
    return human_bytes(n).replace(" ", "").replace("iB", "").replace(".0", "")


def card_text(m: CardData, width: int = 40) -> Text:
    """The card's content (plain data in, styled text out; tested without an app).

    Below 28 columns (four columns at 80x24) the figures use short units, two to a line.
    """
    compact = width < 28
    phase = str(getattr(m.phase, "value", m.phase))
    text = Text(no_wrap=False)
    text.append(m.vm_name, style="bold")
    text.append("\n")
    text.append(f"{m.source} → {m.target}\n")
    text.append(f"{phase} ", style="bold")
    text.append(f"{m.percent:5.1f}%\n" if compact else f"{m.percent:5.1f}% {bar(m.percent)}\n")
    if compact:
        text.append(bar(m.percent, max(4, min(BAR_WIDTH, width - 2))) + "\n")
    p = m.progress
    if p is not None and p.data_total > 0 and compact:
        text.append(f"sent {short(p.data_processed)}/{short(p.data_total)}\n")
        text.append(f"left {short(p.data_remaining)}\n")
        if m.active:
            text.append(f"{short(p.throughput_bps)}/s d {short(p.dirty_rate_bps)}/s\n")
            text.append(f"iter {p.iteration} dt {p.expected_downtime_ms}ms\n")
    elif p is not None and p.data_total > 0:
        text.append(f"sent {human_bytes(p.data_processed)} / {human_bytes(p.data_total)}\n")
        text.append(f"left {human_bytes(p.data_remaining)}\n")
        if m.active:
            text.append(f"{rate(p.throughput_bps)} dirty {rate(p.dirty_rate_bps)}\n")
            text.append(f"iter {p.iteration} downtime {p.expected_downtime_ms} ms\n")
    if m.active:
        elapsed = p.elapsed_s if p is not None else m.duration_s
        eta = secs(m.eta_s) if m.eta_s is not None else (
            "∞" if any(w.startswith("will not converge") for w in m.warnings) else "-")
        text.append(f"{secs(elapsed)} ETA {eta}\n" if compact
                    else f"elapsed {secs(elapsed)} ETA {eta}\n")
    else:
        text.append(f"took {secs(m.duration_s)}\n")
    for warning in m.warnings:
        text.append(f"! {warning}\n", style="bold")
    if m.error:
        text.append(f"{m.error}\n", style="italic")
    if m.note:
        text.append(f"({m.note})\n", style="italic")
    text.rstrip()
    return text


class MigrationCard(Static, can_focus=False):
    """A card; `selected` is drawn by the board with the `-selected` class."""

    DEFAULT_CSS = """
    MigrationCard { border: round $panel-lighten-2; padding: 0 0 0 1; height: auto; }
    MigrationCard.-selected { border: round $accent; }
    MigrationCard.-warn { border: round $warning; }
    MigrationCard.-selected.-warn { border: double $warning; }
    MigrationCard.-failed { color: $text-error; }
    """

    def __init__(self, data: CardData) -> None:
        super().__init__(card_text(data), id=f"mig-{data.id}")
        self.migration_id = data.id
        self.data = data
        self.set_class(bool(data.warnings), "-warn")

    def on_resize(self) -> None:
        self.update(card_text(self.data, self.content_size.width))

    def show(self, data: CardData) -> None:
        if data is self.data:
            return
        self.data = data
        self.set_class(bool(data.warnings), "-warn")
        self.set_class(str(getattr(data.phase, "value", data.phase)) in ("failed", "cancelled"),
                       "-failed")
        self.update(card_text(data, self.content_size.width or 40))
