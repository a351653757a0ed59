"""Wall mode on the demo fleet: read-only, only `q` and the page keys, cycling, survives outages.

Every action key of the registry (and every key any screen binds) is pressed in wall mode:
nothing may reach the dispatcher, nothing may change page or open a dialog.
"""

from __future__ import annotations

from typing import Any

import pytest

from console.actions import registry as actions
from console.app import NovaApp
from console.config import demo_context
from console.fleet.polling import Fleet
from console.fleet.sources import build_backends
from console.models import FleetSnapshot, Host, HostState, SourceHealth, VMState
from console.wall_app import WallApp
from screens.wall import WallScreen, is_problem, summarize
from tests import wait_for
from widgets.footer import Footer
from widgets.tile import Tile, ascii_digits

pytestmark = pytest.mark.timeout(120)


class SpyDispatcher:
    """Records every call; a wall must never make one."""

    read_only = True

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        def record(*args: Any, **kwargs: Any) -> None:
            self.calls.append((name, args))
        return record


def demo_fleet() -> Fleet:
    return Fleet("demo", build_backends(demo_context(), read_only=True), interval_s=0.5)



def all_bound_keys() -> set[str]:
    """Every key the normal console binds anywhere (app, screens, widgets) plus the registry."""
    import screens.help
    import screens.hosts
    import screens.inventory
    import screens.metrics
    import screens.vm_detail
    import widgets.resource_table

    keys = {spec.key for spec in actions.REGISTRY.values()}
    owners: list[Any] = [NovaApp, widgets.resource_table.ResourceTable,
                         screens.inventory.InventoryScreen, screens.hosts.HostsScreen,
                         screens.metrics.MetricsScreen, screens.vm_detail.VMDetailScreen,
                         screens.help.HelpScreen]
    try:
        import screens.migrations
        owners.append(screens.migrations.MigrationsScreen)
    except ImportError:
        pass
    for owner in owners:
        for binding in owner._merge_bindings().key_to_bindings:
            keys.add(binding)
    for key in list(keys):
        keys.update(k.strip() for k in key.split(","))
    return {k for k in keys if k and "," not in k} - {"q"} - {str(n) for n in range(1, 10)}


async def test_wall_is_read_only_and_ignores_every_action_key() -> None:
    """Every key bound anywhere in the normal console does nothing in wall mode."""
    spy = SpyDispatcher()
    app = WallApp(demo_fleet(), cycle_s=0, dispatcher=spy)  # type: ignore[arg-type]
    assert app.read_only is True
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and len(app.snapshot.vms) > 0)
        assert isinstance(app.screen, WallScreen)
        keys = sorted(all_bound_keys())
        assert {"u", "d", "r", "F", "enter", "slash", "ctrl+p", "y"} <= set(keys) | {"ctrl+p"}
        for page in ("1", "2", "3"):
            await pilot.press(page)
            screen = app.screen
            for key in [*keys, "ctrl+p", "colon", "escape", "tab", "space"]:
                await pilot.press(key)
            await pilot.pause(0.1)
            assert app.screen is screen, f"a key opened {app.screen!r} on page {page}"
            assert len(app.screen_stack) == 1
            assert app.focused is None
        assert spy.calls == []
        # The registry's keys are not even bound: only q and the page keys exist.
        bound = {b.id for bindings in app._bindings.key_to_bindings.values() for b in bindings}
        assert all((binding_id or "").startswith("wall.") for binding_id in bound)


class RecordingWall(WallApp):
    """Records every page the wall shows (sampling `current_mode` could miss a short-lived one
    on a loaded machine)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.shown: list[str] = []

    async def _show_page(self, index: int) -> None:
        await super()._show_page(index)
        self.shown.append(self.current_mode)


async def test_wall_cycles_pages_and_q_quits() -> None:
    """The timer moves through summary, problem VMs, hosts (and the board) and wraps around."""
    app = RecordingWall(demo_fleet(), cycle_s=0.3)
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(600):  # no limit on how fast the pages come: only their order counts
            if len(app.shown) > len(app.wall_pages):
                break
            await pilot.pause(0.05)
        seen = app.shown
        assert seen[: len(app.wall_pages)] == list(app.wall_pages)
        assert seen[len(app.wall_pages)] == "wall"
        assert app.wall_pages[:3] == ("wall", "inventory", "hosts")
        await pilot.press("q")
    assert app.return_code == 0


async def test_wall_problem_page_lists_only_problem_vms() -> None:
    app = WallApp(demo_fleet(), cycle_s=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and len(app.snapshot.vms) > 0)
        await pilot.press("2")
        await pilot.pause(0.2)
        table = app.screen.table  # type: ignore[attr-defined]
        shown = set(table.row_keys())
        problems = {vm.key for vm in app.snapshot.vms if is_problem(vm)}
        assert shown == problems and shown
        assert all(vm.state is not VMState.RUNNING or vm.stale
                   for vm in app.snapshot.vms if vm.key in shown)


async def test_wall_tiles_show_counts() -> None:
    app = WallApp(demo_fleet(), cycle_s=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and len(app.snapshot.vms) > 0)
        await pilot.pause(0.2)
        running = sum(1 for vm in app.snapshot.vms if vm.state is VMState.RUNNING)
        assert app.screen.query_one("#tile-vms-running", Tile).value == str(running)
        assert app.screen.query_one("#tile-hosts-up", Tile).value == str(len(app.snapshot.hosts))
        assert app.screen.query_one("#tile-hosts-down", Tile).value == "0"


async def test_wall_page_switches_keep_no_widgets() -> None:
    """A wall cycles pages for days: a page switch must leave nothing behind (Textual's footer
    used to keep every key widget it replaced, through their watchers on the footer)."""
    app = WallApp(demo_fleet(), cycle_s=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and len(app.snapshot.vms) > 0)

        def widgets() -> int:
            return sum(len(list(app.get_screen_stack(m)[-1].walk_children()))
                       for m in app.wall_pages)

        for page in ("2", "3", "4", "1"):
            await pilot.press(page)
            await pilot.pause(0.02)
        await pilot.pause(0.2)
        before = widgets()
        for _ in range(10):
            for page in ("2", "3", "4", "1"):
                await pilot.press(page)
                await pilot.pause(0.02)
        await pilot.pause(0.2)
        assert widgets() == before
        for footer in (f for m in app.wall_pages
                       for f in app.get_screen_stack(m)[-1].query(Footer)):
            assert not footer.children
            assert len(getattr(footer, "__watchers", {}).get("compact", [])) == 0


def test_summary_marks_stale_and_down_sources_and_recovers() -> None:
    """A source that stops answering turns its host tile stale (then down), and back."""
    up = Host(id="a", name="kvm-a", backend="kvm-a", cpus=8, memory_bytes=16 * 2**30)
    other = Host(id="b", name="kvm-b", backend="kvm-b", cpus=8, memory_bytes=16 * 2**30)
    stale = Host(id="b", name="kvm-b", backend="kvm-b", state=HostState.STALE, stale=True,
                 age_s=12)
    down = Host(id="b", name="kvm-b", backend="kvm-b", state=HostState.DOWN, stale=True, age_s=200)
    health = (SourceHealth("kvm-a", True, 1.0), SourceHealth("kvm-b", False, 1.0))

    def tiles(*hosts: Host) -> dict[str, tuple[str, str, str]]:
        snap = FleetSnapshot(context="t", taken_at=0, hosts=hosts, health=health)
        return summarize(snap, None, None, 0).tiles

    assert tiles(up, other)["hosts-up"][0] == "2"
    t = tiles(up, stale)
    assert t["hosts-stale"][0] == "1" and t["hosts-stale"][2] == "stale"
    assert "kvm-b" in t["hosts-stale"][1] and "10s" in t["hosts-stale"][1]
    t = tiles(up, down)
    assert t["hosts-down"][:1] == ("1",) and t["hosts-down"][2] == "crit"
    assert tiles(up, other)["hosts-stale"][0] == "0"
    assert t["migrations"][1].startswith("none") and t["alerts"][1].startswith("none")


def test_summary_lists_migrations_and_alerts_bounded() -> None:
    class M:
        def __init__(self, n: int) -> None:
            self.vm_name, self.source, self.target = f"vm{n}", "a", "b"
            self.active, self.percent = True, 42.0

    class A:
        state, name, severity, host = "firing", "HostDown", "critical", "kvm-b"

    snap = FleetSnapshot(context="t", taken_at=0)
    t = summarize(snap, [M(n) for n in range(10)], [A()], 0).tiles
    assert t["migrations"][0] == "10"
    assert t["migrations"][1].splitlines()[0] == "vm0 a>b 42%"
    assert t["migrations"][1].splitlines()[-1] == "+6 more"
    assert t["alerts"][:1] == ("1",) and "HostDown" in t["alerts"][1]


def test_ascii_digits() -> None:
    assert ascii_digits("10").splitlines() == ["    _ ", "  || |", "  ||_|"]
    assert all(ch.isascii() for ch in ascii_digits("0123456789%-"))
