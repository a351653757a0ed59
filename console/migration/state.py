"""One migration as the board shows it, and the summary of a host drain (plain data)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from backends.base import MigrationOptions
from console.migration.plan import DrainPlan
from console.migration.progress import fmt_rate
from console.models import Migration, MigrationPhase

ACTIVE = frozenset({MigrationPhase.QUEUED, MigrationPhase.RUNNING, MigrationPhase.POSTCOPY})
COLUMNS = ("queued", "running", "done", "failed")


@dataclass(frozen=True, slots=True)
class MigrationState:
    """One migration as the board shows it; replaced (never mutated) on every change."""

    id: str
    vm_id: str
    vm_name: str
    source: str
    target: str
    source_backend: str
    target_backend: str
    phase: MigrationPhase
    queued_at: float
    started_at: float | None = None
    ended_at: float | None = None
    progress: Migration | None = None
    percent: float = 0.0
    eta_s: float | None = None
    warnings: tuple[str, ...] = ()
    error: str = ""
    note: str = ""
    options: MigrationOptions = field(default_factory=MigrationOptions)
    adopted: bool = False
    """Started outside this console (seen in a fleet snapshot): followed, never recorded."""

    @property
    def vm_key(self) -> str:
        return f"{self.source_backend}/{self.vm_id}"

    @property
    def active(self) -> bool:
        return self.phase in ACTIVE

    @property
    def column(self) -> str:
        if self.phase is MigrationPhase.QUEUED:
            return "queued"
        if self.active:
            return "running"
        return "done" if self.phase is MigrationPhase.DONE else "failed"

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None:
            return None
        return (self.ended_at or time.time()) - self.started_at


@dataclass(frozen=True, slots=True)
class DrainSummary:
    host: str
    plan: DrainPlan
    results: tuple[MigrationState, ...]
    elapsed_s: float

    @property
    def moved(self) -> tuple[MigrationState, ...]:
        return tuple(s for s in self.results if s.phase is MigrationPhase.DONE)

    @property
    def failed(self) -> tuple[MigrationState, ...]:
        return tuple(s for s in self.results if s.phase is not MigrationPhase.DONE)

    def lines(self) -> list[str]:
        out = [f"drain {self.host}: {len(self.moved)} moved, {len(self.failed)} failed, "
               f"{len(self.plan.unplaced)} without a target, {len(self.plan.skipped)} not running "
               f"({self.elapsed_s:.1f} s)"]
        out += [f"  moved   {s.vm_name} → {s.target} in {s.duration_s or 0:.1f} s" for s in self.moved]
        out += [f"  FAILED  {s.vm_name} → {s.target}: {s.error}" for s in self.failed]
        out += [f"  NO TARGET {vm.name}: {why}" for vm, why in self.plan.unplaced]
        out += [f"  skipped {vm.name} ({vm.state.value})" for vm in self.plan.skipped]
        return out


def mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def seconds(s: float | None) -> str:
    if s is None:
        return "-"
    return f"{s:.1f} s" if s < 60 else f"{int(s // 60)}m{int(s % 60):02d}s"


def eta_text(state: MigrationState) -> str:
    """'4.2 s', '∞' when it will not converge at this rate, '-' when not known yet."""
    if state.eta_s is not None:
        return seconds(state.eta_s)
    return "∞" if any(w.startswith("will not converge") for w in state.warnings) else "-"


def summary_line(state: MigrationState) -> str:
    """One plain line for the CLI and logs: where it is, how far, how fast, what is wrong."""
    text = (f"{state.vm_name} {state.source} → {state.target}  {state.phase.value:9} "
            f"{state.percent:5.1f}%")
    p = state.progress
    if p is not None and state.active:
        text += (f"  data {mib(p.data_processed)} sent, {mib(p.data_remaining)} left of "
                 f"{mib(p.data_total)}  {fmt_rate(p.throughput_bps)}  dirty "
                 f"{fmt_rate(p.dirty_rate_bps)}  iter {p.iteration}  downtime "
                 f"{p.expected_downtime_ms} ms  elapsed {seconds(p.elapsed_s)}  "
                 f"ETA {eta_text(state)}")
    elif not state.active:
        text += f"  in {seconds(state.duration_s)}"
    if state.error:
        text += f"  {state.error}"
    if state.note:
        text += f"  ({state.note})"
    for warning in state.warnings:
        text += f"  ! {warning}"
    return text
