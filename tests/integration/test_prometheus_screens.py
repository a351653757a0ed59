"""The console's screens over a real Prometheus backfilled with 2,000 hosts and 100,000 VMs:
the inventory and hosts screens draw the whole fleet from a handful of queries (counted by a
real proxy), their CPU sparklines come from Prometheus' rates, and the metrics screen lists the
alerts Prometheus reports as firing."""

from __future__ import annotations

import asyncio

import pytest

from backends.prometheus.backend import PrometheusBackend
from console.app import NovaApp
from console.fleet.metrics_feed import MetricsFeed
from console.fleet.polling import Fleet
from screens.hosts import HostsScreen
from screens.inventory import InventoryScreen
from screens.metrics import MetricsScreen
from tests.integration import prometheus_fixture as pf
from widgets.format import SPARK_BLOCKS
from widgets.resource_table import ResourceTable

pytestmark = pytest.mark.integration

FLEET = pf.Fleet()  # the same fleet the shared `prometheus` fixture (conftest) serves


@pytest.fixture(autouse=True)
def _state_dir(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NOVACRON_STATE_DIR", str(tmp_path / "state"))


async def _wait(predicate, pilot, timeout_s: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate():
        assert loop.time() < deadline, "condition not met in time"
        await pilot.pause(0.2)


async def test_inventory_and_hosts_of_100k_vms_from_a_handful_of_queries(
    proxied: tuple[str, pf.Traffic],
) -> None:
    url, traffic = proxied
    backend = PrometheusBackend("prom", url, inventory=True, timeout_s=90, queries=pf.QUERIES)
    # One sweep only: a long interval, so every counted request belongs to the first paint.
    fleet = Fleet("prom", [backend], interval_s=3600, timeout_s=120)
    app = NovaApp(fleet)
    async with app.run_test(size=(160, 48)) as pilot:
        inventory = app.screen
        assert isinstance(inventory, InventoryScreen)
        await _wait(lambda: inventory.table.row_count == FLEET.vm_count, pilot)
        first_sweep = traffic.requests
        assert first_sweep <= 10, traffic.paths
        await pilot.press("2")
        hosts = app.screen
        assert isinstance(hosts, HostsScreen)
        await _wait(lambda: hosts.table.row_count == FLEET.hosts, pilot)
        # Drawing the hosts screen asked Prometheus nothing more.
        assert traffic.requests == first_sweep
        await pilot.press("1", "slash", *"host:kvm-0007", "enter")
        await _wait(lambda: inventory.table.row_count == FLEET.vms_per_host, pilot)
        assert {inventory.vm(k).host for k in inventory.table.row_keys()} == {"kvm-0007"}


def _cpu_cell(table: ResourceTable, text: str, column: str) -> str:
    """The rendered cell of `column` (a header label) on the visible line that shows `text`."""
    header = table.render_line(0).text
    start = header.rindex(f" {column}") + 1
    lines = [table.render_line(y).text for y in range(1, table.size.height)]
    line = next(line for line in lines if f" {text} " in f" {line} ")
    return line[start:].split("  ")[0].strip()


async def test_cpu_sparklines_come_from_prometheus_rates(proxied: tuple[str, pf.Traffic]) -> None:
    """A Prometheus inventory carries each VM's CPU rate (`vm_cpu_used`) and each host's
    (`host_cpu_used`), so the inventory's CPU column and the hosts' CPU TREND draw from the
    first poll, without libvirt's CPU-time counter. Polls follow each other quickly here; the
    test waits for two of them, however long a loaded machine takes, and reads the rendered rows.
    """
    url, _traffic = proxied
    backend = PrometheusBackend("prom", url, inventory=True, timeout_s=90, queries=pf.QUERIES)
    app = NovaApp(Fleet("prom", [backend], interval_s=0.5, timeout_s=120))
    busy, idle = (7, 4), (7, 0)  # 1.0 core of 1 vCPU: fully busy; and 0.0 cores
    assert FLEET.vm_cpu_rate(*busy) == FLEET.vm_vcpus(*busy) == 1
    assert FLEET.vm_cpu_rate(*idle) == 0
    async with app.run_test(size=(160, 48)) as pilot:
        inventory = app.screen
        assert isinstance(inventory, InventoryScreen)
        series = f"vm:prom/{FLEET.vm_uuid(*busy)}"
        await _wait(lambda: len(app.metrics.tail(series, "cpu", 8)) >= 2, pilot, timeout_s=300)
        assert app.metrics.tail(series, "cpu", 2) == pytest.approx([1.0, 1.0])
        await pilot.press("slash", *"host:kvm-0007", "enter")
        await _wait(lambda: inventory.table.row_count == FLEET.vms_per_host, pilot)
        await pilot.pause()
        busy_cell = _cpu_cell(inventory.table, FLEET.vm_name(*busy), "CPU")
        idle_cell = _cpu_cell(inventory.table, FLEET.vm_name(*idle), "CPU")
        assert busy_cell and set(busy_cell) == {SPARK_BLOCKS[-1]}, busy_cell
        assert idle_cell and set(idle_cell) == {SPARK_BLOCKS[0]}, idle_cell

        await pilot.press("2")
        hosts = app.screen
        assert isinstance(hosts, HostsScreen)
        await _wait(lambda: hosts.table.row_count == FLEET.hosts, pilot)
        await pilot.pause()
        trend = _cpu_cell(hosts.table, FLEET.host_name(2), "CPU TREND")
        # 2 of 8 cores busy on every host, one block per poll so far (two at least).
        assert len(trend) >= 2 and set(trend) <= set(SPARK_BLOCKS[1:3]), trend


async def test_metrics_screen_lists_firing_alerts(proxied: tuple[str, pf.Traffic]) -> None:
    url, _traffic = proxied
    inventory = PrometheusBackend("prom", url, inventory=True, timeout_s=90, queries=pf.QUERIES)
    feed = MetricsFeed([PrometheusBackend("prom-metrics", url, timeout_s=30, queries=pf.QUERIES)])
    app = NovaApp(Fleet("prom", [inventory], interval_s=3600, timeout_s=120), metrics_feed=feed)
    async with app.run_test(size=(160, 48)) as pilot:
        await _wait(lambda: app.snapshot is not None and len(app.snapshot.vms) > 0, pilot)
        await pilot.press("4")
        screen = app.screen
        assert isinstance(screen, MetricsScreen)
        alerts = screen.query_one("#alerts", ResourceTable)
        await _wait(lambda: alerts.row_count > 0, pilot, timeout_s=60)
        names = {key.split("/")[0] for key in alerts.row_keys()}
        assert "VMCrashed" in names
