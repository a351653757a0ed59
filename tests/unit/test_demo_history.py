"""The demo's workload and history bookkeeping: counters are the exact integrals of their
rates (so live samples continue the backfilled ones), and each start backfills exactly what
the TSDB lacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from console.demo.backfill import HISTORY_S, RECENT_S, STEP_S, History
from console.demo.exposition import families, openmetrics_lines, scrape_text
from console.demo.workload import fleet

NOW = 1_796_000_000.0


def test_every_counter_is_the_integral_of_its_rate_and_never_decreases() -> None:
    for host in fleet():
        busy = host.busy
        for t in (NOW, NOW + 3333.3, NOW + 50_000):
            slope = (busy.total(t + 1) - busy.total(t - 1)) / 2
            assert slope == pytest.approx(busy.at(t), rel=1e-4)
            assert 0 < busy.at(t) <= host.cpus
            assert host.idle_seconds(t + 60) > host.idle_seconds(t)
        for vm in host.vms:
            for load in (vm.cpu, vm.disk_read, vm.net_tx):
                assert load.total(NOW + 60) >= load.total(NOW)
            if vm.running:
                assert vm.cpu.at(NOW) <= vm.vcpus


def test_shut_off_vms_are_not_exported_as_the_libvirt_exporter_does() -> None:
    text = scrape_text(families(fleet()), NOW)
    for host in fleet():
        for vm in host.vms:
            assert (f'domain="{vm.name}"' in text) == vm.exported


def test_openmetrics_history_is_grouped_by_family_and_ends_with_eof() -> None:
    lines = "".join(openmetrics_lines(families(fleet()), [NOW, NOW + 60])).splitlines()
    assert lines[-1] == "# EOF"
    types = [line.split()[2] for line in lines if line.startswith("# TYPE")]
    assert len(types) == len(set(types))  # each family once
    sample = next(line for line in lines if line.startswith("libvirt_domain_info_cpu_time"))
    assert sample.endswith(f" {NOW:.3f}")


def _block(data: Path, name: str, max_time: float) -> None:
    (data / name).mkdir(parents=True)
    (data / name / "meta.json").write_text(json.dumps({"maxTime": int(max_time * 1000)}))


def test_a_first_start_backfills_a_day_the_last_minutes_first(tmp_path: Path) -> None:
    recent, older = History(tmp_path, "promtool").spans(NOW)
    assert recent is not None and older is not None
    assert recent[1] == NOW and NOW - recent[0] <= RECENT_S + STEP_S
    assert older[1] == recent[0] and NOW - older[0] <= HISTORY_S + STEP_S


def test_a_later_start_backfills_from_the_newest_block(tmp_path: Path) -> None:
    history = History(tmp_path, "promtool")
    _block(history.data, "newest", NOW - 7200)
    _block(history.data, "older", NOW - 3 * 3600)
    _recent, older = history.spans(NOW)
    assert older is not None and NOW - 7200 - STEP_S <= older[0] <= NOW - 7200
    _block(history.data, "now", NOW - 10)
    assert history.spans(NOW) == (None, None)


def test_an_unfinished_backfill_is_finished_by_the_next_start(tmp_path: Path) -> None:
    history = History(tmp_path, "promtool")
    _block(history.data, "recent", NOW - 600)
    history.owe((NOW - 20 * 3600, NOW - 900))
    _recent, older = history.spans(NOW)
    assert older is not None and older[0] <= NOW - 20 * 3600
    history.settle()
    _recent, older = history.spans(NOW)
    assert older is not None and older[0] >= NOW - 600 - STEP_S
