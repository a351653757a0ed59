"""One context, three kinds at once: libvirt (its test driver), EC2 (moto's server) and Azure
(Azure's recorded ARM traffic through the real aio client), in one inventory, filterable by
kind. Each source is polled by the same fleet; none hides another's VMs."""

from __future__ import annotations

import pytest

from backends import registry
from backends.azure.backend import AzureBackend
from backends.azure.source import AzureSource
from console.app import NovaApp
from console.config import Context
from console.fleet.polling import Fleet
from console.fleet.sources import build_backends
from screens.inventory import FILTER_DEBOUNCE_S, InventoryScreen
from tests import wait_for
from tests.integration.azure_playback import (
    RECORDED_VM,
    Playback,
    StaticToken,
    source_fields,
)

from .aws_fixture import AwsWorld

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


async def test_libvirt_aws_and_azure_in_one_inventory(aws_world: AwsWorld,
                                                      playback: Playback) -> None:
    web = aws_world.run(2, tags={"Name": "web", "env": "prod"})
    context = Context(backends=[
        registry.kind("libvirt").config(name="kvm-lab", uri="test:///default"),
        registry.kind("aws").config(name="ec2-prod", profiles=["alpha"], regions=["eu-west-1"]),
    ])
    azure = AzureBackend(AzureSource(**source_fields(playback, name="azure-prod")),
                         credential=StaticToken())
    fleet = Fleet("mixed", [*build_backends(context, read_only=True), azure], interval_s=30.0)
    app = NovaApp(fleet, read_only=True)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and {
            vm.backend for vm in app.snapshot.vms} == {"kvm-lab", "ec2-prod", "azure-prod"},
            timeout_s=60, what="VMs of the three kinds listed")
        screen = app.screen
        assert isinstance(screen, InventoryScreen)
        assert not app.snapshot.stale_sources
        everything = {f"{vm.backend}/{vm.id}" for vm in app.snapshot.vms}
        await wait_for(pilot, lambda: set(screen.table.row_keys()) == everything,
                       what="one row per VM of every kind")
        by_kind = {kind: {key for key in everything if key.startswith(source + "/")}
                   for kind, source in (("libvirt", "kvm-lab"), ("aws", "ec2-prod"),
                                        ("azure", "azure-prod"))}
        assert {k.rsplit(":", 1)[-1] for k in by_kind["aws"]} == set(web)
        assert f"azure-prod/{RECORDED_VM}" in by_kind["azure"] and len(by_kind["azure"]) == 4
        assert "test" in {vm.name for vm in app.snapshot.vms if vm.backend == "kvm-lab"}
        for text, keys in (("backend:azure", by_kind["azure"]),
                           ("backend:aws", by_kind["aws"]),
                           ("backend:libvirt", by_kind["libvirt"]),
                           ("-backend:azure", by_kind["aws"] | by_kind["libvirt"])):
            screen.show_filter(text)
            await pilot.pause(FILTER_DEBOUNCE_S + 0.2)
            assert set(screen.table.row_keys()) == keys, text
