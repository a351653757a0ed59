"""The inventory over an Azure source (the real aio client against Azure's recorded traffic):
the VMs are listed, powering one off from the inventory follows the recorded operation to its
end and the row shows the VM stopped, and Azure sits beside libvirt in one context."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from backends.azure.backend import AzureBackend
from backends.azure.source import AzureSource
from console.actions.dispatcher import Dispatcher
from console.app import NovaApp
from console.config import demo_context
from console.fleet.polling import Fleet
from console.fleet.sources import build_backends
from console.models import VMState
from console.store import Store
from screens.confirm import ConfirmScreen
from tests import settle, wait_for
from tests.functional.test_azure_resume import panel_text
from tests.integration.azure_playback import (
    RECORDED_VM,
    SUBSCRIPTION,
    Playback,
    StaticToken,
    playback_server,
)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def arm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Playback]:
    with playback_server(tmp_path_factory.mktemp("azure-playback")) as server:
        yield server


@pytest.fixture
async def console(arm: Playback, tmp_path: Path) -> AsyncIterator[Any]:
    arm.reset()
    config = AzureSource(name="azure-prod", subscriptions=[SUBSCRIPTION], base_url=arm.base_url,
                         ca_bundle=arm.ca_file, poll_interval_s=0.05)
    backend = AzureBackend(config, credential=StaticToken())
    fleet = Fleet("azure", [backend], interval_s=1.0)
    store = await Store.open(tmp_path / "audit.db")
    dispatcher = Dispatcher(fleet.backends, audit=store, context="azure", read_only=False,
                            poke=fleet.poke)
    app = NovaApp(fleet, dispatcher=dispatcher)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and len(app.snapshot.vms) == 4,
                       what="the four Azure VMs listed")
        yield app, pilot, store
    await store.close()


def state(app: Any, vm_id: str) -> VMState:
    return next(vm.state for vm in app.snapshot.vms if vm.id == vm_id)


async def test_inventory_lists_azure_vms_and_powers_one_off(console: Any, arm: Playback) -> None:
    app, pilot, store = console
    inventory = app.screen
    await wait_for(pilot, lambda: inventory.table.row_count == 4, what="four rows")
    names = sorted(vm.name for vm in app.snapshot.vms)
    assert names == ["db-01", "virtualmachinexeb772750", "web-01", "web-02"]
    assert state(app, RECORDED_VM) is VMState.RUNNING

    inventory.table.move_to(f"azure-prod/{RECORDED_VM}")
    await pilot.press("d")  # shut down = power off: yes/no
    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
    assert "still billed" in app.screen._body.plain  # said before the operator decides
    await pilot.press("tab", "enter")
    await settle(pilot, app)
    await wait_for(pilot, lambda: state(app, RECORDED_VM) is VMState.STOPPED,
                   what="the row shows the VM stopped")
    said = [n.message for n in app._notifications]
    assert any("done" in m and "still billed" in m for m in said), said
    polls = arm.requests("GET", "/operations/e42e9e55")
    assert len(polls) == 3  # the recorded InProgress → Succeeded, then the Location GET
    entries = await store.audit(limit=5)
    assert [(e.action, e.status.value) for e in entries] == [("vm.shutdown", "ok")]
    await pilot.press("3")  # the board shows the operation beside the migrations
    board = panel_text(app)
    assert "virtualmachinexeb772750" in board and "power off" in board, board
    assert "Succeeded" in board and "still billed" in board, board
    await pilot.press("x")  # cleared with the finished migrations
    await wait_for(pilot, lambda: not app.screen.query_one("#operations").display,
                   what="the finished operation cleared")


async def test_libvirt_and_azure_in_one_inventory(arm: Playback, tmp_path: Path) -> None:
    """A mixed context: the demo fleet's libvirt hosts and the Azure source side by side."""
    arm.reset()
    config = AzureSource(name="azure-prod", subscriptions=[SUBSCRIPTION], base_url=arm.base_url,
                         ca_bundle=arm.ca_file)
    libvirt = build_backends(demo_context(), read_only=True)
    fleet = Fleet("mixed", [*libvirt, AzureBackend(config, credential=StaticToken())],
                  interval_s=1.0)
    app = NovaApp(fleet, read_only=True)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None
                       and {vm.backend for vm in app.snapshot.vms} >= {"azure-prod",
                                                                        libvirt[0].name},
                       what="VMs of both kinds listed")
        kinds = {vm.backend: vm for vm in app.snapshot.vms}
        assert kinds["azure-prod"].host in ("eastus", "eastus-1", "eastus-2", "westeurope")
        assert not app.snapshot.stale_sources
        await wait_for(pilot, lambda: app.screen.table.row_count == len(app.snapshot.vms))
