"""The demo as a newcomer sees it: with its own Prometheus every screen has figures (CPU
trends, hosts' CPU and memory used, charts, the three alerts); without one it still opens and
the metrics screen says how to get Prometheus."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from console import app as app_module
from console.app import NovaApp
from console.cli.main import main
from console.cli.tui import DEMO_METRICS_ENV, demo_metrics
from console.config import Settings, demo_context
from console.demo.prometheus import DemoPrometheus, binaries
from console.fleet.metrics_feed import MetricsFeed
from console.fleet.polling import Fleet
from console.fleet.sources import build_backends, build_metrics
from console.models import VMState
from screens.hosts import HostsScreen
from screens.metrics import MetricsScreen
from tests import wait_for
from widgets.resource_table import ResourceTable

pytestmark = pytest.mark.timeout(180)

CPU_TREND = 8
"""Index of the inventory's CPU column (`screens.rows.VM_COLUMNS`)."""
HOST_CPU_USED, HOST_MEM_USED = 7, 8
"""Indexes of the hosts screen's CPU USED and MEM USED columns (`HOST_COLUMNS`)."""


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo's own Prometheus (a quarter-hour of history is enough for these screens)."""
    tools = binaries()
    assert tools is not None, "prometheus and promtool must be installed (make setup does)"
    prometheus = DemoPrometheus(tmp_path_factory.mktemp("demo-state"), tools, history_s=900)
    url = prometheus.start()
    try:
        assert prometheus.wait_ready(90), f"{prometheus.error}; see {prometheus.log_file}"
        yield url
    finally:
        prometheus.stop()


def _cells(table: ResourceTable, key: str) -> tuple[str, ...]:
    row = table.row(key)
    return tuple(str(c) for c in row.cells) if row is not None else ()


async def test_every_screen_of_the_demo_has_figures(demo_url: str) -> None:
    context = demo_context(demo_url)
    fleet = Fleet("demo", build_backends(context, read_only=True), interval_s=1.0)
    app = NovaApp(fleet, read_only=True, metrics_feed=MetricsFeed(build_metrics(context)))
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and len(app.snapshot.vms) == 60,
                       what="the demo's 60 VMs")
        assert app.snapshot is not None
        running = [vm.key for vm in app.snapshot.vms if vm.state is VMState.RUNNING]
        inventory = app.screen.query_one(ResourceTable)
        await wait_for(pilot, lambda: all(_cells(inventory, k)[CPU_TREND] for k in running),
                       timeout_s=60, what="a CPU trend on every running VM")

        await pilot.press("2")
        assert isinstance(app.screen, HostsScreen)
        hosts = app.screen.table

        def used(name: str) -> tuple[str, str]:
            cells = _cells(hosts, f"{name}/{name}")
            return (cells[HOST_CPU_USED], cells[HOST_MEM_USED]) if cells else ("", "")

        names = [h.name for h in app.snapshot.hosts]
        assert len(names) == 5
        await wait_for(pilot, lambda: all(all(used(n)) for n in names), timeout_s=30,
                       what="CPU and memory used on every host")
        # The overcommitted small host is the busy one (its HostCPUHigh alert's subject).
        assert float(used("kvm-ams-02")[0]) > 0.85

        await pilot.press("4")
        screen = app.screen
        assert isinstance(screen, MetricsScreen)
        alerts = screen.query_one("#alerts", ResourceTable)
        await wait_for(pilot, lambda: alerts.row_count == 3, timeout_s=60, what="three alerts")
        shown = {_cells(alerts, k)[0] + " " + _cells(alerts, k)[2] for k in alerts.row_keys()}
        assert shown == {"HostCPUHigh kvm-ams-02", "VMCPUSaturated build-prod-01",
                         "VMMemoryPressure pg-prod-01"}
        cpu_title = screen.query_one("#cpu-title")
        await wait_for(pilot, lambda: "(prometheus)" in str(cpu_title.render()), timeout_s=30,
                       what="the CPU chart from Prometheus")
        # The busiest VMs follow the hosts in the targets list, the hot one first.
        targets = screen.table.row_keys()
        hot = next(vm.key for vm in app.snapshot.vms if vm.name == "build-prod-01")
        assert targets[5] == f"vm:{hot}"


async def test_the_demo_without_prometheus_opens_and_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(DEMO_METRICS_ENV, "0")  # as on a machine without the binary
    with demo_metrics(Settings(), "demo", demo_context()) as (context, feed):
        assert feed is not None
        fleet = Fleet("demo", build_backends(context, read_only=True), interval_s=30)
        app = NovaApp(fleet, read_only=True, metrics_feed=feed)
        async with app.run_test(size=(200, 40)) as pilot:
            await wait_for(pilot, lambda: app.snapshot is not None and len(app.snapshot.vms) == 60,
                           what="the demo's 60 VMs")
            await pilot.press("4")
            source = str(app.screen.query_one("#metrics-source").render())
            assert "apt install prometheus" in source, source
            assert "FAILING" not in source


async def test_the_demo_says_its_hosts_cannot_migrate_and_offers_the_lab(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`m` on a demo VM and `D` on a demo host open no dialog: one line says the hosts are
    simulated and names the lab; the CLI's pre-flight refuses for the same reason."""
    monkeypatch.setenv(DEMO_METRICS_ENV, "0")
    fleet = Fleet("demo", build_backends(demo_context(), read_only=False), interval_s=3600)
    app = NovaApp(fleet)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and len(app.snapshot.vms) == 60)
        inventory = app.screen
        running = next(vm for vm in app.snapshot.vms if vm.state.value == "running")
        inventory.table.move_to(running.key)
        await pilot.press("m")
        await pilot.pause(0.3)
        assert app.screen is inventory, "a migrate dialog opened on simulated hosts"
        said = [str(n.message) for n in app._notifications]
        assert any("cannot live-migrate" in m and "novacron lab up" in m
                   and "Start the lab" in m for m in said), said


def test_the_cli_refuses_to_migrate_a_demo_vm(capsys: pytest.CaptureFixture[str]) -> None:
    """`vm migrate` on the demo: the pre-flight refuses (exit 3) and names the lab."""
    assert main(["vm", "migrate", "api-prod-02", "--to", "kvm-ams-01"]) == 3
    err = capsys.readouterr().err
    assert "novacron lab up" in err
    # Only the simulation stops it: the demo's hosts share a CPU model, so the rest reads ok.
    failed = [line for line in err.splitlines() if line.strip().startswith("FAIL")]
    assert len(failed) == 1 and "source can live-migrate" in failed[0], err
    assert any(line.strip().startswith("ok   same architecture/CPU model")
               for line in err.splitlines()), err


async def test_alerts_of_a_prometheus_just_started_show_without_the_periodic_refresh(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The console opens while the demo's Prometheus is still starting (as `make run` does):
    its first alert answers are errors, then empty (rules not yet evaluated). The alerts
    must still appear without waiting for the 10 s refresh (turned off here)."""
    monkeypatch.setattr(app_module, "ALERTS_REFRESH_S", 3600.0)
    tools = binaries()
    assert tools is not None
    prometheus = DemoPrometheus(tmp_path, tools, history_s=900)
    context = demo_context(prometheus.start())  # not waited for: the console starts at once
    try:
        fleet = Fleet("demo", build_backends(context, read_only=True), interval_s=1.0)
        app = NovaApp(fleet, read_only=True, metrics_feed=MetricsFeed(build_metrics(context)))
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_for(pilot, lambda: app.alerts is not None and len(app.alerts) == 3,
                           timeout_s=60, what="the three alerts")
    finally:
        prometheus.stop()
