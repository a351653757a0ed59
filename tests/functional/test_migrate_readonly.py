"""Read-only holds for live migration and host drain too, from every front end.

`vm.migrate` is registered beside the tracker (console/migration_door.py), so the every-action
read-only test does not see it; this module covers it the same way: the `m` key, the palette's
"Migrate VM" and "Drain host" entries, the hosts screen's `D`, and the CLI's `vm migrate` and
`host drain`. The backend's `migrate_to` is wrapped with a counter that calls straight through
(instrumentation, not a mock): it must stay at zero, and each refusal must be in the audit log.
Then the gate is bypassed on purpose: the read-only libvirt connection refuses on its own.
"""

from __future__ import annotations

import json
from pathlib import Path

import libvirt
import pytest
from textual.command import CommandPalette
from textual.widgets import Input

from backends.libvirt.backend import LibvirtBackend
from console.actions.dispatcher import Dispatcher
from console.app import NovaApp
from console.cli.main import main
from console.errors import Code, NovaError
from console.fleet.polling import Fleet
from console.store import Store
from screens.hosts import HostsScreen
from screens.inventory import InventoryScreen
from tests import settle, wait_for
from tests.functional.action_fleet import STANDARD, FakeVM, write_config, write_host

pytestmark = pytest.mark.timeout(180)

OTHER = [FakeVM("vm-elsewhere", "22222222-0000-0000-0000-000000000001", 1, ("env=test",))]


@pytest.fixture
def migrations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every call of `LibvirtBackend.migrate_to`, which still runs the real method."""
    seen: list[str] = []
    original = LibvirtBackend.migrate_to

    async def counting(self, vm_id, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(vm_id)
        return await original(self, vm_id, **kwargs)

    monkeypatch.setattr(LibvirtBackend, "migrate_to", counting)
    return seen


@pytest.fixture
def hosts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("NOVACRON_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("NOVACRON_CONFIG", str(tmp_path / "absent.toml"))
    return {"ro-a": write_host(tmp_path, "ro-a", STANDARD), "ro-b": write_host(tmp_path, "ro-b", OTHER)}


def refused_migrations(entries, origin: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.target_name for e in entries if e.action == "vm.migrate"
            and e.status.value == "refused" and e.params.get("origin") == origin
            and e.error_code == Code.READ_ONLY.code]


async def test_migrate_and_drain_refused_in_the_tui_without_opening_a_dialog(
        hosts: dict[str, str], tmp_path: Path, migrations: list[str]) -> None:
    backends = [LibvirtBackend(n, uri, read_only=True) for n, uri in hosts.items()]
    fleet = Fleet("ro", backends, interval_s=1.0)
    store = await Store.open(tmp_path / "audit.db")
    dispatcher = Dispatcher(fleet.backends, audit=store, context="ro", read_only=True)
    app = NovaApp(fleet, read_only=True, dispatcher=dispatcher)
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            await wait_for(pilot, lambda: app.snapshot is not None and len(app.snapshot.vms) == 5)
            inventory = app.screen
            assert isinstance(inventory, InventoryScreen)
            await wait_for(pilot, lambda: inventory.table.row_count == 5)
            inventory.table.move_to("ro-a/" + STANDARD[0].uuid)

            assert inventory.check_action("vm_action", ("vm.migrate",)) is False  # `m` disabled
            await pilot.press("m")
            await settle(pilot, app)
            assert app.screen is inventory, "the migrate dialog opened in read-only"

            await pilot.press("ctrl+p")
            await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
            app.screen.query_one(Input).value = "Migrate VM vm-run"
            await pilot.pause(0.4)
            await pilot.press("enter")
            await settle(pilot, app)
            assert app.screen is inventory, "the palette opened the migrate dialog in read-only"

            await pilot.press("2")
            await wait_for(pilot, lambda: isinstance(app.screen, HostsScreen))
            hosts_screen = app.screen
            await wait_for(pilot, lambda: hosts_screen.table.row_count == 2)
            hosts_screen.table.move_to(next(k for k in hosts_screen.table.row_keys() if k.endswith("/ro-a")))
            await pilot.press("D")
            await settle(pilot, app)
            assert app.screen is hosts_screen, "the drain dialog opened in read-only"
            shown = [n.message for n in app._notifications]
    finally:
        entries = await store.audit(limit=100)
        await store.close()
        await fleet.stop()

    assert migrations == []
    # `m` is disabled (nothing audited); `D` on ro-a: one refusal per VM the drain would move.
    assert sorted(refused_migrations(entries, "tui")) == ["vm-paused", "vm-run", "vm-two"]
    assert refused_migrations(entries, "palette") == ["vm-run"]
    assert any("read-only" in str(m) for m in shown), shown


@pytest.mark.parametrize("how", ["context", "flag"])
def test_migrate_and_drain_refused_through_the_cli(hosts: dict[str, str], tmp_path: Path,
                                                   migrations: list[str], capsys, how: str) -> None:  # type: ignore[no-untyped-def]
    config = write_config(tmp_path / "config.toml", "lab", hosts, read_only=how == "context")
    flags = ["--config", str(config)] + (["--read-only"] if how == "flag" else [])
    assert main([*flags, "vm", "migrate", "vm-run", "--to", "ro-b", "--json"]) == 3
    assert "NOVA-4001" in capsys.readouterr().err
    assert main([*flags, "host", "drain", "ro-a", "--dry-run"]) == 0  # a plan is only reading
    assert main([*flags, "host", "drain", "ro-a", "--yes"]) == 3
    assert "NOVA-4001" in capsys.readouterr().err
    assert migrations == []
    assert main([*flags, "audit", "--json", "--limit", "20"]) == 0
    rows = json.loads(capsys.readouterr().out)
    refused = sorted(r["target_name"] for r in rows
                     if r["action"] == "vm.migrate" and r["status"] == "refused")
    assert refused == ["vm-paused", "vm-run", "vm-run", "vm-two"]


def test_the_read_only_libvirt_connection_refuses_a_migration_on_its_own(hosts: dict[str, str]) -> None:
    conn = libvirt.openReadOnly(hosts["ro-a"])
    try:
        dom = conn.lookupByName("vm-run")
        with pytest.raises(libvirt.libvirtError) as err:
            dom.migrateToURI3(hosts["ro-b"], {}, libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER)
        assert err.value.get_error_code() == libvirt.VIR_ERR_OPERATION_DENIED
    finally:
        conn.close()


async def test_the_read_only_backend_refuses_before_any_libvirt_call(hosts: dict[str, str]) -> None:
    backend = LibvirtBackend("ro-a", hosts["ro-a"], read_only=True)
    try:
        with pytest.raises(NovaError) as err:
            await backend.migrate_to(STANDARD[0].uuid, target="ro-b", target_uri=hosts["ro-b"])
        assert err.value.kind is Code.READ_ONLY
    finally:
        await backend.close()
