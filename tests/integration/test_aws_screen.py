"""The inventory screen over an AWS source on moto's server: the instances are listed with
their zone as host, and the filter finds them by region and tag."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Button, Checkbox, Input, Label

from backends import registry
from console.actions.dispatcher import Dispatcher
from console.app import NovaApp
from console.config import Context
from console.fleet.polling import Fleet
from console.fleet.sources import build_backends
from console.store import Store, open_store
from screens.hosts import HostsScreen
from screens.inventory import FILTER_DEBOUNCE_S, InventoryScreen
from screens.resize_dialog import ResizeDialog
from tests import wait_for

from .aws_fixture import AwsWorld

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


async def test_inventory_screen_lists_the_ec2_instances(aws_world: AwsWorld) -> None:
    web = aws_world.run(3, tags={"Name": "web", "env": "prod"})
    batch = aws_world.run(2, region="us-east-1", profile="beta", tags={"Name": "batch"})
    source = registry.kind("aws").config(name="cloud-prod", profiles=["alpha", "beta"],
                                         regions=["eu-west-1", "us-east-1"])
    context = Context(backends=[source])
    fleet = Fleet("cloud", build_backends(context, read_only=False), interval_s=30.0)
    app = NovaApp(fleet)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, InventoryScreen)
                       and app.screen.table.row_count == 5, timeout_s=60, what="5 rows")
        screen = app.screen
        assert isinstance(screen, InventoryScreen)
        rows = [screen.table.row(k) for k in screen.table.row_keys()]
        cells = sorted((r.cells[0], r.cells[2]) for r in rows if r is not None)
        assert cells == sorted([("batch", "beta:us-east-1a")] * 2 + [("web", "alpha:eu-west-1a")] * 3)
        keys = set(screen.table.row_keys())
        assert keys == {f"cloud-prod/alpha:eu-west-1:{i}" for i in web} | {
            f"cloud-prod/beta:us-east-1:{i}" for i in batch}
        assert str(screen.query_one("#summary", Label).content).startswith("5 VMs")

        for text, keys in (("region:us-east-1", {f"cloud-prod/beta:us-east-1:{i}" for i in batch}),
                           ("backend:aws -region:us-east", {f"cloud-prod/alpha:eu-west-1:{i}" for i in web}),
                           ("backend:libvirt", set())):
            screen.show_filter(text)
            await pilot.pause(FILTER_DEBOUNCE_S + 0.2)
            assert set(screen.table.row_keys()) == keys, text


async def test_hosts_screen_lists_every_zone_and_each_regions_vcpus_against_the_quota(
        aws_world: AwsWorld) -> None:
    """moto's Service Quotas does not know L-1216C47A: the quota is "?" with the reason."""
    aws_world.run(2, instance_type="m5.xlarge")  # 8 running vCPUs in eu-west-1
    source = registry.kind("aws").config(name="cloud", profiles=["alpha"],
                                         regions=["eu-west-1", "us-east-1"])
    fleet = Fleet("cloud", build_backends(Context(backends=[source]), read_only=False),
                  interval_s=30.0)
    app = NovaApp(fleet)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and len(app.snapshot.hosts) >= 6,
                       timeout_s=60, what="the zones")
        await pilot.press("2")
        await wait_for(pilot, lambda: isinstance(app.screen, HostsScreen), what="hosts screen")
        screen = app.screen
        assert isinstance(screen, HostsScreen)
        label = screen.query_one("#host-quotas", Label)
        await wait_for(pilot, lambda: "us-east-1" in str(label.content), timeout_s=60,
                       what="the quota lines")
        lines = str(label.content).splitlines()
        assert lines[0].startswith("cloud quota: eu-west-1 8/? vCPU: Service Quotas did not answer")
        assert lines[1].startswith("cloud quota: us-east-1 0/? vCPU: Service Quotas did not answer")
        assert all("NoSuchResource" in line for line in lines)
        zones = {k.rpartition("/")[2] for k in screen.table.row_keys()}
        assert {"eu-west-1a", "eu-west-1b", "us-east-1a", "us-east-1b"} <= zones
        # The summary counts zones as zones, not as hosts with 0 CPUs ("8/0 vCPU allocated").
        summary = str(screen.query_one("#host-summary", Label).content)
        assert summary.startswith(f"{len(zones)} cloud zones"), summary
        assert "vCPU allocated" not in summary, summary


async def test_resize_dialog_offers_stop_resize_start_for_a_running_instance(
        aws_world: AwsWorld, tmp_path: Path) -> None:
    (iid,) = aws_world.run(1, tags={"Name": "api"})  # m5.large, running
    source = registry.kind("aws").config(name="cloud", profiles=["alpha"], regions=["eu-west-1"])
    fleet = Fleet("cloud", build_backends(Context(backends=[source]), read_only=False),
                  interval_s=30.0)
    store = await Store.open(tmp_path / "audit.db")
    try:
        app = NovaApp(fleet, dispatcher=Dispatcher(fleet.backends, audit=store, context="cloud",
                                                   read_only=False))
        async with app.run_test(size=(160, 40)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, InventoryScreen)
                           and app.screen.table.row_count == 1, timeout_s=60, what="the row")
            app.screen.table.move_to(f"cloud/alpha:eu-west-1:{iid}")
            await pilot.press("R")
            await wait_for(pilot, lambda: isinstance(app.screen, ResizeDialog), what="dialog")
            dialog = app.screen
            dialog.query_one("#vcpus", Input).value = "4"
            await pilot.click("#go")  # without restart: refused, the way out named
            await wait_for(pilot, lambda: "failed" in str(dialog.query_one("#result").render()),
                           timeout_s=60, what="the refusal")
            assert "stopped" in str(dialog.query_one("#result").render())
            dialog.query_one("#restart", Checkbox).value = True
            dialog.query_one("#go", Button).press()  # the long refusal may push it off a click
            await wait_for(pilot, lambda: "done" in str(dialog.query_one("#result").render()),
                           timeout_s=60, what="stop, resize, start")
            assert "m5.xlarge" in str(dialog.query_one("#result").render())
    finally:
        await store.close()
    record = aws_world.ec2().describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    assert record["InstanceType"] == "m5.xlarge" and record["State"]["Name"] == "running"
    async with open_store(tmp_path / "audit.db") as audit:
        rows = {(r.action, r.status.value) for r in await audit.audit(limit=20)}
    assert {("vm.resize", "failed"), ("vm.resize", "ok"), ("vm.resize.stop", "ok"),
            ("vm.resize.type", "ok"), ("vm.resize.start", "ok")} <= rows
