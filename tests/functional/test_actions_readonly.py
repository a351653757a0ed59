"""Read-only is enforced by the dispatcher, whatever the front end, and by libvirt itself.

Every registered action is tried through its key binding, the command palette and the CLI
against a read-only context. The backend class's mutating methods are wrapped with a counter
that calls straight through to the real code (instrumentation, not a mock): the count must stay
zero, every refusal must be in the audit log, and the libvirt state must be unchanged. Then the
gate is bypassed on purpose: the read-only libvirt connection refuses each call on its own.
"""

from __future__ import annotations

import collections
from pathlib import Path

import pytest
from textual.command import CommandPalette
from textual.widgets import Input

from backends.libvirt.backend import LibvirtBackend
from console.actions import registry as actions
from console.actions.dispatcher import Dispatcher
from console.actions.registry import Confirm, TargetKind
from console.app import NovaApp
from console.cli.main import main
from console.errors import Code, NovaError
from console.fleet.polling import Fleet
from console.store import Store
from screens.snapshots import SnapshotsScreen
from tests import settle, wait_for
from tests.functional.action_fleet import STANDARD, write_config, write_host

pytestmark = pytest.mark.timeout(180)

MUTATING = [spec for spec in actions.ACTIONS if spec.mutating]
ON_VM_SCREENS = [spec for spec in MUTATING
                 if spec.target not in (TargetKind.MIGRATION, TargetKind.HOST)]
"""What the inventory and snapshot screens offer (the board's controls: test_migrate_readonly;
the hosts screen's: test_ssh_accept_key)."""
ON_THE_CLI = [spec for spec in MUTATING if spec.cli]
"""`vm <verb>` subcommands (`vm migrate`, with its own options: test_migrate_readonly)."""
SNAPSHOT = "before-upgrade"


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> collections.Counter[str]:
    """Count every call of a mutating backend method (each still runs the real method)."""
    counter: collections.Counter[str] = collections.Counter()
    for spec in MUTATING:
        if not hasattr(LibvirtBackend, spec.method):  # another kind's action (deallocate)
            continue
        original = getattr(LibvirtBackend, spec.method)

        async def counting(self, *args, _original=original, _name=spec.method, **kwargs):  # type: ignore[no-untyped-def]
            counter[_name] += 1
            return await _original(self, *args, **kwargs)

        monkeypatch.setattr(LibvirtBackend, spec.method, counting)
    return counter


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NOVACRON_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("NOVACRON_CONFIG", str(tmp_path / "absent.toml"))
    return tmp_path


async def libvirt_state(backend: LibvirtBackend) -> list[tuple[str, int, tuple[str, ...]]]:
    def read() -> list[tuple[str, int, tuple[str, ...]]]:
        conn = backend.connection()
        return sorted((d.name(), d.state()[0], tuple(sorted(s.getName() for s in d.listAllSnapshots())))
                      for d in conn.listAllDomains())
    return await backend._call(read)




def refused_by_origin(entries, origin: str) -> set[str]:  # type: ignore[no-untyped-def]
    return {e.action for e in entries if e.status.value == "refused" and e.params.get("origin") == origin}


async def test_every_action_refused_through_keys_and_palette(env: Path, calls) -> None:  # type: ignore[no-untyped-def]
    uri = write_host(env, "ro-host", STANDARD)
    backend = LibvirtBackend("ro-host", uri, read_only=True)
    fleet = Fleet("ro", [backend], interval_s=1.0)
    store = await Store.open(env / "audit.db")
    dispatcher = Dispatcher(fleet.backends, audit=store, context="ro", read_only=True,
                            poke=fleet.poke)
    app = NovaApp(fleet, read_only=True, dispatcher=dispatcher)
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            await wait_for(pilot, lambda: app.snapshot is not None and len(app.snapshot.vms) == 4)
            inventory = app.screen
            await wait_for(pilot, lambda: inventory.table.row_count == 4)
            inventory.table.move_to("ro-host/" + STANDARD[0].uuid)
            before = await libvirt_state(backend)

            # 1. key bindings: a mutating action's key is disabled and hidden (check_action),
            # pressing it does nothing at all; the snapshot list (a query) still opens
            shown = {b.binding.id for b in app.active_bindings.values() if b.binding.show}
            assert shown & {s.id for s in ON_VM_SCREENS} == set(), shown
            for spec in actions.for_target(TargetKind.VM):
                assert app.screen.check_action("vm_action", (spec.id,)) is (not spec.mutating)
                await pilot.press(spec.key)
                await settle(pilot, app)
                if spec.id == "vm.snapshots":
                    assert isinstance(app.screen, SnapshotsScreen)
                    await wait_for(pilot, lambda: [s.name for s in app.screen.snapshots] == [SNAPSHOT])
                    for snap_spec in actions.for_target(TargetKind.SNAPSHOT):
                        await pilot.press(snap_spec.key)
                        await settle(pilot, app)
                    await pilot.press("escape")
                    await settle(pilot, app)
                assert app.screen is inventory, f"{spec.id} left a dialog open in read-only"

            # 2. the command palette: the entry for every action, chosen by typing its title
            async def palette(text: str) -> None:
                await pilot.press("ctrl+p")
                await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
                app.screen.query_one(Input).value = text
                await pilot.pause(0.4)
                await pilot.press("enter")
                await settle(pilot, app)

            for spec in actions.for_target(TargetKind.VM):
                if spec.mutating:
                    await palette(f"{spec.title}: vm-run")
                    assert app.screen is inventory
            await pilot.press("N")
            await settle(pilot, app)
            await wait_for(pilot, lambda: isinstance(app.screen, SnapshotsScreen)
                           and len(app.screen.snapshots) == 1)
            for spec in actions.for_target(TargetKind.SNAPSHOT):
                await palette(f"{spec.title}: vm-run @ {SNAPSHOT}")
            await pilot.press("escape")
            await settle(pilot, app)
            after = await libvirt_state(backend)
    finally:
        entries = await store.audit(limit=500)
        await store.close()

    assert sum(calls.values()) == 0, calls
    assert after == before
    every = {spec.id for spec in ON_VM_SCREENS}
    assert refused_by_origin(entries, "tui") == set()  # disabled keys reach nothing
    assert refused_by_origin(entries, "palette") == every  # the palette reaches the dispatcher
    assert all(e.error_code == Code.READ_ONLY.code for e in entries)
    assert not [e for e in entries if e.status.value != "refused"]


def cli_args(spec: actions.ActionSpec) -> list[str]:
    args = ["vm", spec.verb, "vm-run"]
    if spec.target is TargetKind.SNAPSHOT:
        args += ["--snapshot", SNAPSHOT]
    if spec.confirm is Confirm.YES_NO:
        args.append("--yes")
    if spec.confirm is Confirm.TYPE_NAME:
        args += ["--confirm", "vm-run"]
    return args


@pytest.mark.parametrize("how", ["context", "flag"])
def test_every_action_refused_through_the_cli(env: Path, calls, capsys, how: str) -> None:  # type: ignore[no-untyped-def]
    """`read_only = true` in the context, or `--read-only` on a writable one: exit 3, audited."""
    uri = write_host(env, "ro-host", STANDARD)
    config = write_config(env / "config.toml", "lab", {"ro-host": uri}, read_only=how == "context")
    flags = ["--config", str(config)] + (["--read-only"] if how == "flag" else [])
    for spec in ON_THE_CLI:
        assert main([*flags, *cli_args(spec), "--json"]) == 3, spec.id
        assert '"NOVA-4001"' in capsys.readouterr().out
    assert sum(calls.values()) == 0, calls
    assert main(["--config", str(config), "audit", "--json", "--limit", "100"]) == 0
    import json

    rows = json.loads(capsys.readouterr().out)
    assert {r["action"] for r in rows if r["status"] == "refused"} == {s.id for s in ON_THE_CLI}


def test_write_overrides_a_read_only_context(env: Path, calls, capsys) -> None:  # type: ignore[no-untyped-def]
    uri = write_host(env, "ro-host", STANDARD)
    config = write_config(env / "config.toml", "lab", {"ro-host": uri}, read_only=True)
    assert main(["--config", str(config), "--write", "vm", "start", "vm-off"]) == 0
    assert calls["start"] == 1


def test_yes_is_not_accepted_for_destructive_actions(env: Path, calls) -> None:  # type: ignore[no-untyped-def]
    uri = write_host(env, "rw-host", STANDARD)
    config = write_config(env / "config.toml", "lab", {"rw-host": uri}, read_only=False)
    for spec in MUTATING:
        if spec.destructive:
            with pytest.raises(SystemExit) as exc:
                main(["--config", str(config), "vm", spec.verb, "vm-run", "--yes"])
            assert exc.value.code == 2
            # Without --confirm NAME (or with the wrong name): refused, exit 3.
            args = ["--config", str(config), "vm", spec.verb, "vm-run", "--confirm", "vm-ru"]
            if spec.target is TargetKind.SNAPSHOT:
                args += ["--snapshot", SNAPSHOT]
            assert main(args) == 3
    assert sum(calls.values()) == 0


def _vm_for(spec: actions.ActionSpec) -> str:
    return {"vm.start": "vm-off", "vm.resume": "vm-paused"}.get(spec.id, "vm-run")


ON_LIBVIRT = [s for s in ON_THE_CLI if hasattr(LibvirtBackend, s.method)]


@pytest.mark.parametrize("spec", ON_LIBVIRT, ids=[s.id for s in ON_LIBVIRT])  # migrate: its own test
async def test_read_only_connection_refuses_if_the_gate_were_skipped(tmp_path: Path, spec) -> None:  # type: ignore[no-untyped-def]
    """Call the backend directly (no dispatcher): libvirt's read-only connection says no."""
    backend = LibvirtBackend("ro-host", write_host(tmp_path, "ro-host", STANDARD), read_only=True)
    try:
        params = actions.prepare_params(spec, {"snapshot": SNAPSHOT}
                                        if spec.target is TargetKind.SNAPSHOT else {})
        with pytest.raises(NovaError) as err:
            await getattr(backend, spec.method)(_vm_for(spec), **actions.call_kwargs(spec, params))
        assert err.value.kind is Code.PERMISSION_DENIED, err.value
        assert "read only" in err.value.cause
    finally:
        await backend.close()
