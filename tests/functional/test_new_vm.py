"""The New VM form and the resize dialog in the TUI, against libvirt's test driver.

The test driver is real libvirt (pools, volumes, define, start, setVcpus…) with its state in
the backend's connection, so what the form made is read back through that connection.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.command import CommandPalette
from textual.widgets import Input, Static

from backends.libvirt.backend import LibvirtBackend
from console.actions.dispatcher import Dispatcher
from console.app import NovaApp
from console.config import Context
from console.fleet.polling import Fleet
from console.models import VMState
from console.store import Store
from screens.new_vm import NewVMDialog
from screens.resize_dialog import ResizeDialog
from tests import settle, wait_for
from tests.functional.action_fleet import STANDARD, host_xml

pytestmark = pytest.mark.timeout(180)


def write_host_with_pool(directory: Path) -> str:
    pool = (f"<pool type='dir'><name>vms</name><target><path>{directory}</path></target>"
            "<volume type='file'><name>base.qcow2</name><capacity unit='MiB'>64</capacity>"
            "</volume></pool>")
    path = directory / "host.xml"
    path.write_text(host_xml(STANDARD).replace("</node>", pool + "</node>"), encoding="utf-8")
    return f"test://{path}"


def context() -> Context:
    return Context.model_validate({
        "spread_by": "role",
        "templates": {"small": {"kind": "libvirt", "vcpus": 1, "memory": "256MiB",
                                "pool": "vms", "base_volume": "base.qcow2",
                                "domain_type": "test", "arch": "i686",  # the test driver's
                                "max_vcpus": 4, "max_memory": "1GiB"}}})


async def open_app(tmp_path: Path, *, read_only: bool):  # type: ignore[no-untyped-def]
    backend = LibvirtBackend("t-host", write_host_with_pool(tmp_path), read_only=read_only)
    fleet = Fleet("t", [backend], interval_s=1.0)
    store = await Store.open(tmp_path / "audit.db")
    dispatcher = Dispatcher(fleet.backends, audit=store, context="t", read_only=read_only,
                            poke=fleet.poke)
    app = NovaApp(fleet, read_only=read_only, dispatcher=dispatcher, context_config=context())
    return backend, store, app


async def test_new_vm_form_makes_two_vms_with_progress(tmp_path: Path) -> None:
    backend, store, app = await open_app(tmp_path, read_only=False)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.snapshot is not None and len(app.snapshot.vms) == 4)
            await pilot.press("plus")
            await wait_for(pilot, lambda: isinstance(app.screen, NewVMDialog))
            form = app.screen
            form.query_one("#name", Input).value = "db"
            form.query_one("#count", Input).value = "2"
            form.query_one("#tags", Input).value = "role=pg"
            await pilot.click("#rank")
            await settle(pilot, app)
            why = str(form.query_one("#why", Static).render())
            assert "t-host: score" in why and "no other role=pg here" in why
            await pilot.click("#go")
            await wait_for(pilot, lambda: all(
                form.progress.get(n, "").startswith("done") for n in ("db-1", "db-2")),
                timeout_s=60, what="both VMs made")
            assert "db-1: done: on t-host, running" in str(form.query_one("#progress", Static).render())
            await pilot.press("escape")
            await settle(pilot, app)
            made = {vm.name: vm for vm in await backend.vms()}  # the app closes it on exit
        assert made["db-1"].state is VMState.RUNNING and made["db-2"].state is VMState.RUNNING
        assert "role=pg" in made["db-1"].tags and made["db-1"].vcpus == 1
        rows = {(e.target_name, e.action, e.status.value) for e in await store.audit(limit=100)}
        for name in ("db-1", "db-2"):
            for action in ("vm.create", "vm.create.volume", "vm.create.define", "vm.create.start"):
                assert (name, action, "ok") in rows
    finally:
        await store.close()


async def test_resize_dialog_live_then_next_boot(tmp_path: Path) -> None:
    backend, store, app = await open_app(tmp_path, read_only=False)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.snapshot is not None and len(app.snapshot.vms) == 4)
            app.screen.table.move_to("t-host/" + STANDARD[0].uuid)
            await pilot.press("R")
            await wait_for(pilot, lambda: isinstance(app.screen, ResizeDialog))
            dialog = app.screen
            dialog.query_one("#vcpus", Input).value = "1"
            dialog.query_one("#memory", Input).value = "256MiB"
            await pilot.click("#go")
            await settle(pilot, app)
            await wait_for(pilot, lambda: "done" in str(dialog.query_one("#result", Static).render()))
            assert "now: 1 vCPUs, 256 MiB" in str(dialog.query_one("#result", Static).render())
            dialog.query_one("#memory", Input).value = "2GiB"  # above its 512 MiB maximum
            await pilot.click("#go")
            await settle(pilot, app)
            await wait_for(pilot, lambda: "next boot" in str(dialog.query_one("#result", Static).render()))
            vm = next(v for v in await backend.vms() if v.name == STANDARD[0].name)
        assert vm.memory_bytes == 256 * 2**20  # the running guest: the live change only
    finally:
        await store.close()


async def test_read_only_refuses_new_vm_and_resize_in_the_tui(tmp_path: Path) -> None:
    backend, store, app = await open_app(tmp_path, read_only=True)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.snapshot is not None and len(app.snapshot.vms) == 4)
            inventory = app.screen
            inventory.table.move_to("t-host/" + STANDARD[0].uuid)
            for key in ("plus", "R"):  # the keys are disabled: nothing opens
                await pilot.press(key)
                await settle(pilot, app)
                assert app.screen is inventory
            for title in ("New VM", "Resize"):  # the palette reaches the dispatcher: refused
                await pilot.press("ctrl+p")
                await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
                app.screen.query_one(Input).value = f"{title}: vm-run"
                await pilot.pause(0.4)
                await pilot.press("enter")
                await settle(pilot, app)
                assert app.screen is inventory, f"{title} opened a dialog in read-only"
            listed = await backend.vms()
        rows = [(e.action, e.status.value, e.error_code, e.params.get("origin"))
                for e in await store.audit(limit=10)]
        assert sorted(rows) == [("vm.create", "refused", "NOVA-4001", "palette"),
                                ("vm.resize", "refused", "NOVA-4001", "palette")]
        assert len(listed) == 4
    finally:
        await store.close()


async def test_grow_disk_key_opens_the_dialog_and_reaches_the_backend(tmp_path: Path) -> None:
    """`E` opens the resize dialog on its disk fields; the request goes through the dispatcher
    to the libvirt backend, which refuses a disk the VM does not have (these test-driver VMs
    have none; the driver has no blockResize either): the dialog shows why, the audit records
    it. The growth itself: tests/integration/test_grow_disk_libvirtd.py."""
    _backend, store, app = await open_app(tmp_path, read_only=False)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.snapshot is not None and len(app.snapshot.vms) == 4)
            app.screen.table.move_to("t-host/" + STANDARD[0].uuid)
            await pilot.press("E")
            await wait_for(pilot, lambda: isinstance(app.screen, ResizeDialog))
            dialog = app.screen
            assert app.focused is dialog.query_one("#disk_size", Input)
            await pilot.press(*"2TiB")
            await pilot.click("#go")
            await settle(pilot, app)
            result = dialog.query_one("#result", Static)
            await wait_for(pilot, lambda: "failed" in str(result.render()))
            assert "NOVA-1001" in str(result.render()) and "its disks: none" in str(result.render())
        rows = [(e.action, e.status.value, e.params.get("disk")) for e in await store.audit(limit=5)]
        assert rows == [("vm.grow_disk", "failed", "vda")]
    finally:
        await store.close()
