"""Percentage, ETA and warnings of a running migration (pure)."""

from __future__ import annotations

from console.migration.progress import ProgressMeter, eta_seconds, raw_percent, will_not_converge
from console.models import Migration, MigrationPhase

MIB = 2**20


def sample(total: int, remaining: int, processed: int, bps: float = 8 * MIB,
           dirty: float = 0.0, iteration: int = 1) -> Migration:
    return Migration(id="m", vm_id="v", vm_name="vm", source="a", target="b",
                     phase=MigrationPhase.RUNNING, data_total=total, data_remaining=remaining,
                     data_processed=processed, throughput_bps=bps, dirty_rate_bps=dirty,
                     iteration=iteration)


def test_percent_never_runs_backwards_when_an_iteration_requeues_pages() -> None:
    meter = ProgressMeter()
    meter.update(sample(128 * MIB, 64 * MIB, 64 * MIB), now=1)
    assert meter.percent == 50
    meter.update(sample(128 * MIB, 96 * MIB, 100 * MIB, iteration=2), now=2)  # re-dirtied
    assert meter.percent == 50
    meter.update(sample(128 * MIB, 16 * MIB, 140 * MIB, iteration=2), now=3)
    assert meter.percent == 87.5


def test_percent_stays_below_100_until_finished() -> None:
    meter = ProgressMeter()
    meter.update(sample(128 * MIB, 0, 128 * MIB), now=1)
    assert meter.percent == 99
    meter.finish()
    assert meter.percent == 100 and meter.eta_s == 0


def test_raw_percent_edges() -> None:
    assert raw_percent(0, 0) == 0
    assert raw_percent(100, 150) == 0
    assert raw_percent(100, 25) == 75


def test_eta_uses_net_rate() -> None:
    assert eta_seconds(100 * MIB, 10 * MIB, 0) == 10
    assert eta_seconds(100 * MIB, 10 * MIB, 5 * MIB) == 20
    assert eta_seconds(100 * MIB, 10 * MIB, 10 * MIB) is None
    assert eta_seconds(0, 0, 0) == 0


def test_convergence_needs_iteration_two_and_dirty_at_least_throughput() -> None:
    assert not will_not_converge(8 * MIB, 9 * MIB, iteration=1)
    assert will_not_converge(8 * MIB, 9 * MIB, iteration=2)
    assert not will_not_converge(8 * MIB, 4 * MIB, iteration=5)


def test_not_converging_warning_after_consecutive_samples_only() -> None:
    meter = ProgressMeter()
    for t in range(2):
        meter.update(sample(128 * MIB, 64 * MIB, (t + 1) * MIB, bps=MIB, dirty=4 * MIB,
                            iteration=3), now=t)
    assert not meter.not_converging
    meter.update(sample(128 * MIB, 64 * MIB, 3 * MIB, bps=MIB, dirty=4 * MIB, iteration=3), now=3)
    assert meter.not_converging
    assert any("will not converge" in w for w in meter.warnings)
    assert meter.eta_s is None
    meter.update(sample(128 * MIB, 60 * MIB, 9 * MIB, bps=8 * MIB, dirty=0, iteration=4), now=4)
    assert not meter.not_converging


def test_stall_watchdog() -> None:
    meter = ProgressMeter(stall_after_s=10)
    meter.update(sample(128 * MIB, 64 * MIB, 64 * MIB), now=100)
    meter.update(sample(128 * MIB, 64 * MIB, 64 * MIB), now=105)
    assert not meter.stalled
    meter.touch(-1, now=111)  # no sample at all (progress call timed out)
    assert meter.stalled
    assert any("stalled" in w for w in meter.warnings)
    meter.update(sample(128 * MIB, 60 * MIB, 70 * MIB), now=112)
    assert not meter.stalled
