"""A guest that ignores the shutdown request: the TUI offers force-off, which still needs the name.

The backend is the real libvirt backend over the test driver, with one change: the ACPI request
is not sent (the test driver would honour it at once; a busybox or hung guest does not, as the
lab shows), and the wait is 1 s instead of 60. The waiting loop, the timeout error, the offer,
the typed confirmation and the force-off are the product's own code.
"""

from __future__ import annotations

from pathlib import Path

import libvirt
import pytest
from textual.widgets import Input

from backends.libvirt.backend import LibvirtBackend
from console.actions.dispatcher import Dispatcher
from console.app import NovaApp
from console.fleet.polling import Fleet
from console.models import VMState
from console.store import Store
from screens.confirm import ConfirmScreen, TypeNameScreen
from tests import settle, wait_for
from tests.functional.action_fleet import STANDARD, write_host
from tests.functional.test_actions_tui import messages, state

pytestmark = pytest.mark.timeout(120)


class AcpiDeafBackend(LibvirtBackend):
    """Its guests never act on a graceful shutdown."""

    async def shutdown(self, vm_id: str, timeout_s: float = 60.0) -> None:
        await super().shutdown(vm_id, timeout_s=1.0)

    def _shutdown(self, vm_id: str) -> libvirt.virDomain:
        return self.domain(vm_id)  # the request is "sent" and ignored


@pytest.fixture
async def console(tmp_path: Path):  # type: ignore[no-untyped-def]
    backend = AcpiDeafBackend("deaf", write_host(tmp_path, "deaf", STANDARD))
    fleet = Fleet("t", [backend], interval_s=1.0)
    store = await Store.open(tmp_path / "audit.db")
    app = NovaApp(fleet, dispatcher=Dispatcher(fleet.backends, audit=store, context="t",
                                               read_only=False, poke=fleet.poke))
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.screen.table.row_count == len(STANDARD))
        yield app, pilot, store
    await store.close()


async def shut_down(app, pilot, key: str) -> None:  # type: ignore[no-untyped-def]
    app.screen.table.move_to(key)
    await pilot.press("d")
    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
    await pilot.press("tab", "enter")  # Cancel has the focus: move to "Shut down"
    await wait_for(pilot, lambda: isinstance(app.screen, TypeNameScreen), timeout_s=10)


async def test_timed_out_shutdown_offers_force_off_and_does_it_when_named(console) -> None:  # type: ignore[no-untyped-def]
    app, pilot, store = console
    key = "deaf/" + STANDARD[0].uuid
    await shut_down(app, pilot, key)
    assert any("still running after 1 s" in m for m in messages(app))
    app.screen.query_one(Input).value = STANDARD[0].name
    await pilot.press("enter")
    await settle(pilot, app)
    await wait_for(pilot, lambda: state(app, key) is VMState.STOPPED)
    rows = sorted(await store.audit(limit=10), key=lambda e: e.id)
    assert [(e.action, e.status.value, e.error_code) for e in rows] == [
        ("vm.shutdown", "failed", "NOVA-2002"), ("vm.force_off", "ok", "")]
    assert "force-off is available" in rows[0].error_cause


async def test_declining_the_offer_leaves_the_guest_running(console) -> None:  # type: ignore[no-untyped-def]
    app, pilot, store = console
    key = "deaf/" + STANDARD[0].uuid
    await shut_down(app, pilot, key)
    await pilot.press("escape")
    await settle(pilot, app)
    assert not isinstance(app.screen, TypeNameScreen)
    assert any("was left running" in m for m in messages(app))
    assert state(app, key) is VMState.RUNNING
    assert [e.action for e in await store.audit(limit=10)] == ["vm.shutdown"]
