"""What an operator reads off a running migration: percentage, ETA and warnings.

Pure and clock-driven (the caller passes `now`), so the rules are unit-tested without a host:
- the percentage never runs backwards (libvirt's `data_remaining` jumps up at each new
  iteration as re-dirtied pages are queued again) and stays below 100 until the job ends;
- the ETA divides what remains by the net rate (throughput minus dirty rate), smoothed;
- "will not converge" when the guest dirties memory at least as fast as it is sent;
- a stall watchdog when the bytes sent stop growing.
"""

from __future__ import annotations

from dataclasses import dataclass

from console.models import Migration

SMOOTHING = 0.4
"""Weight of the newest sample in the moving averages of throughput and dirty rate."""
NOT_CONVERGING_SAMPLES = 3
"""Consecutive samples with dirty rate ≥ throughput before warning."""
DEFAULT_STALL_AFTER_S = 30.0
MAX_RUNNING_PERCENT = 99.0


def fmt_rate(bps: float) -> str:
    for unit, size in (("GiB/s", 2**30), ("MiB/s", 2**20), ("KiB/s", 2**10)):
        if bps >= size:
            return f"{bps / size:.1f} {unit}"
    return f"{bps:.0f} B/s"


def raw_percent(total: int, remaining: int) -> float:
    """Share of the guest's memory not waiting to be sent, 0 to 100."""
    if total <= 0:
        return 0.0
    return max(0.0, min(100.0, 100.0 * (total - remaining) / total))


def eta_seconds(remaining: int, throughput_bps: float, dirty_bps: float) -> float | None:
    """Seconds left at the net rate; None when the net rate is not positive (no end in sight)."""
    if remaining <= 0:
        return 0.0
    net = throughput_bps - dirty_bps
    if net <= 0:
        return None
    return remaining / net


def will_not_converge(throughput_bps: float, dirty_bps: float, iteration: int) -> bool:
    """The guest writes memory at least as fast as the link carries it (from iteration 2 on)."""
    return iteration >= 2 and dirty_bps > 0 and dirty_bps >= throughput_bps


@dataclass
class ProgressMeter:
    """Feed it every progress sample of one migration; read `percent`, `eta_s`, `warnings`."""

    stall_after_s: float = DEFAULT_STALL_AFTER_S
    percent: float = 0.0
    eta_s: float | None = None
    throughput_bps: float = 0.0
    dirty_bps: float = 0.0
    not_converging: bool = False
    stalled_for_s: float = 0.0
    _samples: int = 0
    _over: int = 0
    _last_processed: int = -1
    _last_change_at: float | None = None

    def update(self, sample: Migration, now: float) -> None:
        if self._samples == 0:
            self.throughput_bps = sample.throughput_bps
            self.dirty_bps = sample.dirty_rate_bps
        else:
            self.throughput_bps += SMOOTHING * (sample.throughput_bps - self.throughput_bps)
            self.dirty_bps += SMOOTHING * (sample.dirty_rate_bps - self.dirty_bps)
        self._samples += 1
        running = min(MAX_RUNNING_PERCENT, raw_percent(sample.data_total, sample.data_remaining))
        self.percent = max(self.percent, running)
        self.eta_s = (eta_seconds(sample.data_remaining, self.throughput_bps, self.dirty_bps)
                      if sample.data_total > 0 else None)
        over = will_not_converge(sample.throughput_bps, sample.dirty_rate_bps, sample.iteration)
        self._over = self._over + 1 if over else 0
        self.not_converging = self._over >= NOT_CONVERGING_SAMPLES
        self.touch(sample.data_processed, now)

    def touch(self, processed: int, now: float) -> None:
        """Record the bytes sent so far (also called when no sample came: `processed=-1`)."""
        if self._last_change_at is None or processed > self._last_processed:
            self._last_processed = max(self._last_processed, processed)
            self._last_change_at = now
        self.stalled_for_s = now - self._last_change_at

    def finish(self) -> None:
        self.percent = 100.0
        self.eta_s = 0.0
        self.not_converging = False
        self.stalled_for_s = 0.0

    @property
    def stalled(self) -> bool:
        return self.stalled_for_s >= self.stall_after_s

    @property
    def warnings(self) -> tuple[str, ...]:
        out = []
        if self.not_converging:
            out.append(f"will not converge: dirty rate {fmt_rate(self.dirty_bps)} ≥ throughput "
                       f"{fmt_rate(self.throughput_bps)} (auto-converge, post-copy or more "
                       "bandwidth)")
        if self.stalled:
            out.append(f"stalled: no data sent for {self.stalled_for_s:.0f} s")
        return tuple(out)
