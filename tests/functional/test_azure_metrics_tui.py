"""Azure Monitor in the console (the real querymetrics aio client against the playback server):
the inventory's CPU trend of the recorded VM comes from the fleet's getBatch, the metrics screen
charts it with the source named, and a refused getBatch is said on the metrics screen while the
inventory goes on listing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from textual.widgets import Label

from backends.azure.backend import AzureBackend
from backends.azure.source import AzureSource
from console.app import NovaApp
from console.fleet.metrics_feed import MetricsFeed
from console.fleet.polling import Fleet
from screens.inventory import InventoryScreen
from screens.metrics import MetricsScreen
from tests import wait_for
from tests.integration.azure_playback import (
    RECORDED_VM,
    SUBSCRIPTION,
    Playback,
    StaticToken,
    playback_server,
)
from widgets.plot import Plot

pytestmark = pytest.mark.timeout(120)

TARGET = f"vm:azure-prod/{RECORDED_VM}"


@pytest.fixture(scope="module")
def arm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Playback]:
    with playback_server(tmp_path_factory.mktemp("azure-metrics-tui")) as server:
        yield server


@pytest.fixture
async def console(arm: Playback) -> AsyncIterator[Any]:
    """As `novacron` opens an Azure context: one backend object lists the inventory, another
    (opened read-only, `build_metrics`) feeds charts and sparklines."""
    arm.reset()
    config = AzureSource(name="azure-prod", subscriptions=[SUBSCRIPTION], base_url=arm.base_url,
                         ca_bundle=arm.ca_file, metrics_endpoint=f"{arm.base_url}/{{region}}",
                         retries=0)
    fleet = Fleet("azure", [AzureBackend(config, credential=StaticToken())], interval_s=1.0)
    feed = MetricsFeed([AzureBackend(config, credential=StaticToken(), read_only=True)])
    app = NovaApp(fleet, metrics_feed=feed, read_only=True)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and len(app.snapshot.vms) == 4,
                       what="the four Azure VMs listed")
        yield app, pilot


def label(app: Any, selector: str) -> str:
    return str(app.screen.query_one(selector, Label).render())


async def open_chart_of_recorded_vm(app: Any, pilot: Any) -> MetricsScreen:
    await pilot.press("4")
    await wait_for(pilot, lambda: isinstance(app.screen, MetricsScreen))
    screen = app.screen
    assert isinstance(screen, MetricsScreen)
    await wait_for(pilot, lambda: TARGET in list(screen.table.row_keys()), timeout_s=20,
                   what="the recorded VM among the busiest")
    screen.table.move_to(TARGET)
    return screen


async def test_cpu_trend_and_charts_of_the_recorded_vm(console: Any, arm: Playback) -> None:
    app, pilot = console
    inventory = app.screen
    assert isinstance(inventory, InventoryScreen)
    key = f"azure-prod/{RECORDED_VM}"
    # Percentage CPU 40 % of the last aggregated minute → 0.8 cores of 2 vCPUs
    await wait_for(pilot, lambda: len(app.metrics.tail(f"vm:{key}", "cpu", 8)) >= 2,
                   timeout_s=20, what="two polls of the VM's CPU from Azure Monitor")
    assert set(app.metrics.tail(f"vm:{key}", "cpu", 8)) == {0.4}
    assert next(v.cpu_used_cores for v in app.snapshot.vms if v.id == RECORDED_VM) == 0.8
    await wait_for(pilot, lambda: inventory.table.row(key).cells[-1] != "",
                   what="the CPU sparkline drawn")
    deallocated = next(v.key for v in app.snapshot.vms if v.name == "db-01")
    assert inventory.table.row(deallocated).cells[-1] == ""  # not running: not asked

    screen = await open_chart_of_recorded_vm(app, pilot)
    # the four charts are asked one after the other; a snapshot may redraw between them
    await wait_for(pilot, lambda: "now 40%  (azure)" in label(app, "#cpu-title")
                   and "(azure)" in label(app, "#mem-title")
                   and "no data" not in label(app, "#disk-title") + label(app, "#net-title"),
                   timeout_s=20, what="the four charts from Azure Monitor")
    assert "Azure Monitor" in label(app, "#metrics-source")
    assert "FAILING" not in label(app, "#metrics-source")
    assert "Memory  now 2.5 GiB  (azure)" in label(app, "#mem-title"), label(app, "#mem-title")
    assert "now 58.6 KiB/s" in label(app, "#net-title"), label(app, "#net-title")
    assert "now 97.7 KiB/s" in label(app, "#disk-title"), label(app, "#disk-title")
    cpu = screen.query_one("#cpu-chart", Plot).data
    assert len(cpu) == 14 and max(cpu) == 0.625 and cpu[-1] == 0.4  # fractions of 2 vCPUs
    assert len(screen.query_one("#net-chart", Plot).data) == 14
    asked = {b.query for b in arm.requests("POST", "metrics:getBatch")}
    assert any("Disk%20Read%20Bytes" in q for q in asked) and not arm.unmatched


async def test_a_refused_getbatch_shows_on_the_metrics_screen_and_the_inventory_lists(
        arm: Playback) -> None:
    """Refused from the start (no CPU figure at all), then on the chart of a VM that had one."""
    arm.reset()
    arm.inject("metrics-forbidden-fleet", times=100)
    config = AzureSource(name="azure-prod", subscriptions=[SUBSCRIPTION], base_url=arm.base_url,
                         ca_bundle=arm.ca_file, metrics_endpoint=f"{arm.base_url}/{{region}}",
                         retries=0)
    fleet = Fleet("azure", [AzureBackend(config, credential=StaticToken())], interval_s=1.0)
    feed = MetricsFeed([AzureBackend(config, credential=StaticToken(), read_only=True)])
    app = NovaApp(fleet, metrics_feed=feed, read_only=True)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and len(app.snapshot.vms) == 4,
                       what="the four Azure VMs listed")
        await wait_for(pilot, lambda: any(s.status == 403 for s in arm.log), timeout_s=20,
                       what="the fleet's getBatch refused")
        assert all(v.cpu_used_cores is None for v in app.snapshot.vms)
        await pilot.press("4")
        await wait_for(pilot, lambda: "FAILING" in label(app, "#metrics-source"),
                       timeout_s=20, what="the failing source said")
        text = label(app, "#metrics-source")
        assert "AZURE FAILING: NOVA-2003" in text, text
        assert "Azure Monitor metrics for eastus" in text and "Monitoring Reader" in text, text
        await pilot.press("1")
        assert isinstance(app.screen, InventoryScreen)
        assert app.screen.table.row_count == 4 and not app.snapshot.stale_sources


async def test_a_chart_refused_after_figures_came_says_so(console: Any, arm: Playback) -> None:
    app, pilot = console
    screen = await open_chart_of_recorded_vm(app, pilot)
    await wait_for(pilot, lambda: "(azure)" in label(app, "#cpu-title"), timeout_s=20,
                   what="the chart drawn from Azure Monitor")
    arm.inject("metrics-forbidden-vm", times=100)
    await pilot.press("w")  # another window: the charts are asked again
    await wait_for(pilot, lambda: "AZURE FAILING" in label(app, "#metrics-source"),
                   timeout_s=20, what="the refused chart said")
    assert "Monitoring Reader" in label(app, "#metrics-source")
    assert screen.table.row_count >= 1 and not app.snapshot.stale_sources
