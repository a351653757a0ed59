"""Lifecycle actions in the TUI on the demo fleet (libvirt test driver), as an operator would.

Keys come from the registry; confirmation dialogs default to Cancel; force-off needs the name
typed and does nothing on a wrong name or `esc`; the audit screen lists every action with its
outcome; bulk actions on marked rows take one confirmation.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input

from console.actions.dispatcher import Dispatcher
from console.app import NovaApp
from console.config import demo_context
from console.fleet.polling import Fleet
from console.fleet.sources import build_backends
from console.models import VMState
from console.store import Store
from screens.audit import AuditScreen
from screens.confirm import ConfirmScreen, TypeNameScreen
from screens.snapshots import SnapshotsScreen
from tests import settle, wait_for

pytestmark = pytest.mark.timeout(120)




def state(app, key: str) -> VMState:  # type: ignore[no-untyped-def]
    return next(vm.state for vm in app.snapshot.vms if vm.key == key)


def messages(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [n.message for n in app._notifications]


@pytest.fixture
async def console(tmp_path: Path):  # type: ignore[no-untyped-def]
    fleet = Fleet("demo", build_backends(demo_context(), read_only=False), interval_s=1.0)
    store = await Store.open(tmp_path / "audit.db")
    dispatcher = Dispatcher(fleet.backends, audit=store, context="demo", read_only=False,
                            poke=fleet.poke)
    app = NovaApp(fleet, dispatcher=dispatcher)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and len(app.snapshot.vms) > 40)
        await wait_for(pilot, lambda: app.screen.table.row_count > 40)
        yield app, pilot, store
    await store.close()


def running_vms(app, n: int = 1) -> list:  # type: ignore[no-untyped-def]
    vms = sorted((vm for vm in app.snapshot.vms if vm.state is VMState.RUNNING), key=lambda v: v.name)
    return vms[:n]


async def test_stop_start_reboot_snapshot_revert(console) -> None:  # type: ignore[no-untyped-def]
    app, pilot, store = console
    inventory = app.screen
    vm = running_vms(app)[0]
    inventory.table.move_to(vm.key)

    await pilot.press("d")  # shut down: yes/no, Cancel focused
    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
    assert app.focused is not None and app.focused.id == "cancel"
    await pilot.press("enter")  # enter on Cancel: nothing happens
    await settle(pilot, app)
    assert app.screen is inventory and state(app, vm.key) is VMState.RUNNING

    await pilot.press("d")
    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
    await pilot.press("tab", "enter")
    await settle(pilot, app)
    await wait_for(pilot, lambda: state(app, vm.key) is VMState.STOPPED)

    await pilot.press("u")  # start: safe, no confirmation
    await settle(pilot, app)
    await wait_for(pilot, lambda: state(app, vm.key) is VMState.RUNNING)

    await pilot.press("r")
    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
    await pilot.press("tab", "enter")
    await settle(pilot, app)

    await pilot.press("n")  # take a snapshot (default name nova-<time>)
    await settle(pilot, app)
    await pilot.press("N")
    await wait_for(pilot, lambda: isinstance(app.screen, SnapshotsScreen) and app.screen.snapshots)
    snap = app.screen.snapshots[0].name
    assert snap.startswith("nova-")
    await pilot.press("r")  # revert: yes/no
    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
    await pilot.press("tab", "enter")
    await settle(pilot, app)
    await pilot.press("escape")
    await settle(pilot, app)

    entries = await store.audit(limit=50)
    done = [(e.action, e.status.value, e.target_name) for e in reversed(entries)]
    assert done == [("vm.shutdown", "ok", vm.name), ("vm.start", "ok", vm.name),
                    ("vm.reboot", "ok", vm.name), ("vm.snapshot_create", "ok", vm.name),
                    ("vm.snapshot_revert", "ok", vm.name)]
    assert entries[0].params["snapshot"] == snap

    await pilot.press("5")  # the audit screen lists each action with its outcome
    await wait_for(pilot, lambda: isinstance(app.screen, AuditScreen) and len(app.screen.entries) == 5)
    rows = [r.cells for r in app.screen.query_one("ResourceTable")._rows]
    assert [(r[2].split()[0], r[4]) for r in reversed(rows)] == [
        ("shutdown", "ok"), ("start", "ok"), ("reboot", "ok"), ("snapshot_create", "ok"),
        ("snapshot_revert", "ok")]


async def test_force_off_needs_the_exact_name(console) -> None:  # type: ignore[no-untyped-def]
    app, pilot, store = console
    vm = running_vms(app)[0]
    app.screen.table.move_to(vm.key)

    await pilot.press("F")
    await wait_for(pilot, lambda: isinstance(app.screen, TypeNameScreen))
    await pilot.press(*vm.name[:-1], "enter")  # wrong name: stays open, nothing done
    await pilot.pause(0.3)
    assert isinstance(app.screen, TypeNameScreen)
    assert "not the name" in str(app.screen.query_one("#wrong").render())
    await pilot.press("escape")  # esc: closed, nothing done
    await settle(pilot, app)
    assert not isinstance(app.screen, TypeNameScreen)
    assert state(app, vm.key) is VMState.RUNNING
    assert await store.audit(limit=10) == []

    await pilot.press("F")
    await wait_for(pilot, lambda: isinstance(app.screen, TypeNameScreen))
    app.screen.query_one(Input).value = vm.name
    await pilot.press("enter")
    await settle(pilot, app)
    await wait_for(pilot, lambda: state(app, vm.key) is VMState.STOPPED)
    [entry] = await store.audit(limit=10)
    assert (entry.action, entry.status.value) == ("vm.force_off", "ok")


async def test_bulk_on_marked_rows(console) -> None:  # type: ignore[no-untyped-def]
    app, pilot, store = console
    inventory = app.screen
    vms = running_vms(app, 3)
    for vm in vms:
        inventory.table.move_to(vm.key)
        await pilot.press("space")
    assert inventory.table.marked == {vm.key for vm in vms}
    await pilot.press("d")
    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
    body = str(app.screen.query_one("#body").render())
    assert "3 VMs" in body and all(vm.name in body for vm in vms)
    await pilot.press("tab", "enter")
    await settle(pilot, app)
    for vm in vms:
        await wait_for(pilot, lambda vm=vm: state(app, vm.key) is VMState.STOPPED)
    entries = await store.audit(limit=10)
    assert sorted(e.target_name for e in entries) == sorted(vm.name for vm in vms)
    assert {e.status.value for e in entries} == {"ok"}
    assert any("3 VMs" in m for m in messages(app))
    assert inventory.table.marked == frozenset()


async def test_command_line_and_busy_vm(console) -> None:  # type: ignore[no-untyped-def]
    """`:` runs registry verbs and switches screens."""
    app, pilot, store = console
    vm = running_vms(app)[0]
    await pilot.press("colon")
    app.screen.query_one(Input).value = f"suspend {vm.name}"
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
    await pilot.press("tab", "enter")
    await settle(pilot, app)
    await wait_for(pilot, lambda: state(app, vm.key) is VMState.PAUSED)
    await pilot.press("colon")
    app.screen.query_one(Input).value = "audit"
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, AuditScreen))
    [entry] = await store.audit(limit=10)
    assert entry.params["origin"] == "command"
