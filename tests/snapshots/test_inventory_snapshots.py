"""Pictures of the inventory and detail on the demo fleet, at 80x24 and 160x48.

Deterministic: the fleet's clock and the header's clock are fixed (the header reads
`StatusHeader.clock`, a hook meant for this), the state dir is private, and every picture is
taken only after every demo source has answered. The cursor sits on the first row (it follows
a key only once the operator moves it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot

from console.app import NovaApp
from console.config import demo_context
from console.fleet.polling import Fleet
from console.fleet.sources import build_backends
from screens.inventory import FILTER_DEBOUNCE_S, InventoryScreen
from screens.vm_detail import VMDetailScreen
from tests import wait_for
from widgets.status_header import StatusHeader

pytestmark = pytest.mark.timeout(120)

NOW = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC
SMALL, LARGE = (80, 24), (160, 48)


@pytest.fixture(autouse=True)
def fixed_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOVACRON_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("NOVACRON_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setattr(StatusHeader, "clock", staticmethod(lambda: NOW + 3))


def demo_app() -> NovaApp:
    fleet = Fleet("demo", build_backends(demo_context(), read_only=False), interval_s=3600,
                  clock=lambda: NOW, seed=1)
    return NovaApp(fleet)



async def loaded(pilot: Pilot) -> None:
    app = pilot.app
    assert isinstance(app, NovaApp)
    await wait_for(pilot, lambda: isinstance(app.screen, InventoryScreen)
                and app.screen.table.row_count == 60
                and app.header_state.sources != ()
                and all(s.ok for s in app.header_state.sources))
    await app.workers.wait_for_complete()
    await pilot.pause(0.1)


def then(*steps: Callable[[Pilot], Awaitable[None]]) -> Callable[[Pilot], Awaitable[None]]:
    async def run(pilot: Pilot) -> None:
        await loaded(pilot)
        for step in steps:
            await step(pilot)
    return run


async def filter_pg_prod(pilot: Pilot) -> None:
    await pilot.press("slash", *"pg-prod")
    await pilot.pause(FILTER_DEBOUNCE_S + 0.2)
    await wait_for(pilot, lambda: pilot.app.screen.table.row_count == 6)


async def open_detail(pilot: Pilot) -> None:
    await pilot.press("down", "down", "enter")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, VMDetailScreen))
    await pilot.pause(0.1)


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])
def test_inventory(snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(demo_app(), terminal_size=size, run_before=then())


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])
def test_inventory_filtered(snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(demo_app(), terminal_size=size, run_before=then(filter_pg_prod))


def test_inventory_sorted_by_memory_reversed(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(demo_app(), terminal_size=SMALL, press=["s", "s", "s", "s", "S"],
                        run_before=then())


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])
def test_detail(snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(demo_app(), terminal_size=size, run_before=then(open_detail))
