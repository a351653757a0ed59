"""The console paints the last known fleet at once, marked stale, when its hosts do not answer:
the snapshot saved by one run is what the next run shows until a poll succeeds."""

from __future__ import annotations

import asyncio

from console.app import NovaApp
from console.config import demo_context
from console.fleet.polling import Fleet
from console.fleet.sources import build_backends
from screens.inventory import InventoryScreen


def _demo_fleet() -> Fleet:
    return Fleet("demo", build_backends(demo_context(), read_only=True), interval_s=60)


def _dead_fleet() -> Fleet:
    """The demo's host names, but every URI points at a file that does not exist."""
    context = demo_context()
    dead = context.model_copy(update={"backends": [
        b.model_copy(update={"uri": f"test:///nonexistent/{b.name}.xml"}) for b in context.backends
    ]})
    return Fleet("demo", build_backends(dead, read_only=True), interval_s=60)


async def _wait(predicate, pilot, timeout_s: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await pilot.pause(0.1)


async def test_last_snapshot_is_shown_stale_when_hosts_are_down(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NOVACRON_STATE_DIR", str(tmp_path))
    first = NovaApp(_demo_fleet())
    async with first.run_test() as pilot:
        screen = first.screen
        assert isinstance(screen, InventoryScreen)
        await _wait(lambda: screen.table.row_count == 60, pilot)
        names = {screen.vm(k).name for k in screen.table.row_keys()}  # type: ignore[union-attr]
    # Exiting saved the snapshot; now every host is unreachable.
    second = NovaApp(_dead_fleet())
    async with second.run_test() as pilot:
        screen = second.screen
        assert isinstance(screen, InventoryScreen)
        await _wait(lambda: screen.table.row_count == 60, pilot)
        vms = [screen.vm(k) for k in screen.table.row_keys()]
        assert {vm.name for vm in vms if vm} == names
        assert all(vm is not None and vm.stale for vm in vms)
        # After the failed polls the rows are still there, still stale, and the header says so.
        await _wait(lambda: all(not h.ok and h.consecutive_failures > 0
                                for h in second.snapshot.health), pilot)  # type: ignore[union-attr]
        assert screen.table.row_count == 60
        assert all(not s.ok for s in second.header_state.sources)


async def test_without_a_stored_snapshot_unreachable_hosts_show_as_down(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NOVACRON_STATE_DIR", str(tmp_path))
    app = NovaApp(_dead_fleet())
    async with app.run_test() as pilot:
        # (the app's first snapshot, before any poll, has no health yet: all() of nothing)
        await _wait(lambda: app.snapshot is not None and app.snapshot.health and all(
            h.consecutive_failures > 0 for h in app.snapshot.health), pilot)
        assert app.screen.table.row_count == 0  # type: ignore[attr-defined]
        assert {h.state.value for h in app.snapshot.hosts} == {"down"}  # type: ignore[union-attr]
