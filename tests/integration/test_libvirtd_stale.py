"""A host that dies mid-run: a real libvirtd (serving a demo host over RPC) is SIGKILLed.

Two sources: `remote`, the demo host kvm-fra-01 served by our own libvirtd over TCP, and
`local`, the demo host kvm-ams-01 through the in-process test driver. Expected, without any
key pressed to make it happen: the header shows `remote` stale, its VMs keep their last values
marked stale (rows drawn in the stale style), `local` stays fresh, keys still work; when the
daemon is back, the source recovers by itself.

The fleet's longest back-off (`MAX_BACKOFF_S`, 60 s: the retry period once a source's circuit
is open) is shortened to 2 s so the test takes seconds; the logic is the same.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Label

from backends.libvirt.backend import LibvirtBackend
from backends.libvirt.events import silence_default_error_handler
from console import demo
from console.app import NovaApp
from console.fleet import polling as fleet_module
from console.fleet.polling import Fleet
from console.models import VM, HostState
from screens.inventory import FILTER_DEBOUNCE_S, InventoryScreen
from tests import wait_for
from tests.integration.libvirtd_fixture import Libvirtd, libvirtd  # noqa: F401  (pytest fixture)
from widgets.status_header import StatusHeader

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
silence_default_error_handler()

REMOTE_XML = next(p for p in demo.host_files() if p.stem == "kvm-fra-01")
LOCAL_XML = next(p for p in demo.host_files() if p.stem == "kvm-ams-01")



def header_text(app: NovaApp) -> str:
    return app.screen.query_one(StatusHeader).render().plain


def by_backend(app: NovaApp, name: str) -> dict[str, VM]:
    assert app.snapshot is not None
    return {vm.key: vm for vm in app.snapshot.vms if vm.backend == name}


def remote_host_state(app: NovaApp) -> HostState | None:
    assert app.snapshot is not None
    return next((h.state for h in app.snapshot.hosts if h.backend == "remote"), None)


def source_ok(app: NovaApp, name: str) -> bool:
    return any(s.name == name and s.ok for s in app.header_state.sources)


async def test_killed_libvirtd_goes_stale_and_comes_back(
    libvirtd: Libvirtd,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NOVACRON_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(fleet_module, "MAX_BACKOFF_S", 2.0)
    remote = LibvirtBackend("remote", libvirtd.test_uri(REMOTE_XML), timeout_s=3)
    local = LibvirtBackend("local", f"test://{LOCAL_XML}", timeout_s=3)
    app = NovaApp(Fleet("it", [remote, local], interval_s=0.5, timeout_s=5))

    async with app.run_test(size=(140, 40)) as pilot:
        # -- both sources answer: every VM of both hosts is listed ----------------------------
        await wait_for(pilot, lambda: isinstance(app.screen, InventoryScreen)
                       and source_ok(app, "remote") and source_ok(app, "local")
                       and app.screen.table.row_count == 27, 30, "both hosts listed")
        screen = app.screen
        assert isinstance(screen, InventoryScreen)
        table = screen.table
        before = by_backend(app, "remote")
        assert len(before) == 14 and len(by_backend(app, "local")) == 13
        assert not any(vm.stale for vm in app.snapshot.vms)  # type: ignore[union-attr]
        assert "sources ok 2/2" in header_text(app)

        # -- the host dies ----------------------------------------------------------------------
        libvirtd.kill()
        took = await wait_for(pilot, lambda: not source_ok(app, "remote")
                              and all(vm.stale for vm in by_backend(app, "remote").values()),
                              30, "remote marked stale")
        print(f"\nremote marked stale {took:.1f} s after libvirtd was killed")
        text = header_text(app)
        assert "STALE 1/2" in text and "remote" in text, text

        after = by_backend(app, "remote")
        assert after.keys() == before.keys(), "a dead host keeps its VMs"
        for key, vm in after.items():
            old = before[key]
            assert vm.stale
            assert (vm.name, vm.state, vm.vcpus, vm.memory_bytes, vm.tags) == (
                old.name, old.state, old.vcpus, old.memory_bytes, old.tags)
        local_vms = by_backend(app, "local")
        assert source_ok(app, "local") and not any(vm.stale for vm in local_vms.values())
        health = {h.name: h for h in app.snapshot.health}  # type: ignore[union-attr]
        assert "NOVA-2001" in health["remote"].error, health["remote"].error

        # Stale rows are drawn in the stale style; fresh ones are not.
        await pilot.pause(0.2)
        stale_style = table.get_component_rich_style("resource-table--stale")
        assert stale_style.italic
        for y in range(1, min(table.row_count, table.scrollable_content_region.height - 1) + 1):
            key = table.row_keys()[y - 1 + int(table.scroll_offset.y)]
            if key == table.cursor_key:
                continue
            italic = any(seg.style is not None and seg.style.italic
                         for seg in table.render_line(y) if seg.text.strip())
            assert italic == (key in after), table.row(key)
        assert all(table.row(k).stale for k in after)  # type: ignore[union-attr]
        assert all(table.row(k).cells[1].endswith("?") for k in after)  # type: ignore[union-attr]

        # -- the console still answers keys while the host is dead ------------------------------
        await pilot.press("slash", *"state:stale")
        await pilot.pause(FILTER_DEBOUNCE_S + 0.1)
        await wait_for(pilot, lambda: set(table.row_keys()) == set(after), 10, "stale filter")
        summary = str(screen.query_one("#summary", Label).content)
        assert "14 of 27 VMs" in summary and "14 stale" in summary, summary
        await pilot.press("enter", "escape")
        await wait_for(pilot, lambda: table.row_count == 27, 10, "filter cleared")
        await pilot.press("s")
        assert screen.sort_column == "state"

        # -- down for a while: the circuit opens (shown down), the last data stays -------------
        await wait_for(pilot, lambda: remote_host_state(app) is HostState.DOWN, 20, "circuit open")
        assert len(by_backend(app, "remote")) == 14
        assert "STALE 1/2" in header_text(app)

        # -- the host comes back: no key pressed ------------------------------------------------
        libvirtd.start()
        took = await wait_for(pilot, lambda: source_ok(app, "remote")
                              and not any(vm.stale for vm in app.snapshot.vms), 30,  # type: ignore[union-attr]
                              "remote recovered by itself")
        assert by_backend(app, "remote").keys() == before.keys()
        await pilot.pause(0.2)
        assert "sources ok 2/2" in header_text(app)
        assert not any(table.row(k).stale for k in table.row_keys())  # type: ignore[union-attr]
        assert "stale" not in str(screen.query_one("#summary", Label).content)
