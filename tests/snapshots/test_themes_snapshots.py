"""Every screen at 80x24 and 160x48 in the dark and the 16-colour ANSI themes.

Same deterministic world as test_inventory_snapshots.py: fixed fleet and header clocks, private
state dir, no second poll (interval one hour), pictures taken once every demo source answered.
Guards: columns drop by priority and nothing overlaps at 80x24; the ANSI theme stays legible;
the wall's tiles fit both sizes.
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
from console.wall_app import WallApp
from screens.inventory import InventoryScreen
from screens.vm_detail import VMDetailScreen
from screens.wall import WallScreen
from tests import wait_for
from widgets.status_header import StatusHeader

pytestmark = pytest.mark.timeout(120)

NOW = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC
SIZES = {"80x24": (80, 24), "160x48": (160, 48)}
THEMES = ("novacron-dark", "novacron-ansi")


@pytest.fixture(autouse=True)
def fixed_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOVACRON_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("NOVACRON_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setattr(StatusHeader, "clock", staticmethod(lambda: NOW + 3))


def fleet() -> Fleet:
    return Fleet("demo", build_backends(demo_context(), read_only=True), interval_s=3600,
                 clock=lambda: NOW, seed=1)



async def loaded(pilot: Pilot) -> None:
    app = pilot.app
    assert isinstance(app, NovaApp)
    await wait_for(pilot, lambda: app.header_state.sources != ()
                and all(s.ok for s in app.header_state.sources))
    await app.workers.wait_for_complete()
    await pilot.pause(0.2)


async def mode(pilot: Pilot, name: str) -> None:
    await pilot.app.switch_mode(name)
    await pilot.pause(0.3)


STEPS: dict[str, Callable[[Pilot], Awaitable[None]]] = {}


def step(name: str) -> Callable[[Callable[[Pilot], Awaitable[None]]], Callable[[Pilot], Awaitable[None]]]:
    def register(fn: Callable[[Pilot], Awaitable[None]]) -> Callable[[Pilot], Awaitable[None]]:
        STEPS[name] = fn
        return fn
    return register


@step("inventory")
async def _inventory(pilot: Pilot) -> None:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, InventoryScreen)
                and pilot.app.screen.table.row_count == 60)


@step("hosts")
async def _hosts(pilot: Pilot) -> None:
    await mode(pilot, "hosts")


@step("detail")
async def _detail(pilot: Pilot) -> None:
    await _inventory(pilot)
    await pilot.press("down", "down", "enter")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, VMDetailScreen))
    await pilot.pause(0.2)


@step("help")
async def _help(pilot: Pilot) -> None:
    await _inventory(pilot)
    await pilot.press("question_mark")
    await pilot.pause(0.3)


@step("migrations")
async def _migrations(pilot: Pilot) -> None:
    await mode(pilot, "migrations")


@step("audit")
async def _audit(pilot: Pilot) -> None:
    await mode(pilot, "audit")
    await pilot.app.workers.wait_for_complete()
    await pilot.pause(0.3)


SCREENS = [name for name in STEPS if name in ("inventory", "hosts", "detail", "help")
           or name in NovaApp.MODES]


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("screen", SCREENS)
def test_screen(snap_compare, screen: str, size: str, theme: str) -> None:  # type: ignore[no-untyped-def]
    """Each screen, each size, each theme: nothing overlaps, columns drop by priority."""

    async def run_before(pilot: Pilot) -> None:
        await loaded(pilot)
        await STEPS[screen](pilot)

    app = NovaApp(fleet(), theme=theme)
    assert snap_compare(app, terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("page", ["1", "2", "3"])
def test_wall(snap_compare, page: str, size: str, theme: str) -> None:  # type: ignore[no-untyped-def]
    """The wall's summary tiles, problem VMs and hosts pages: no cursor, no footer keys."""

    async def run_before(pilot: Pilot) -> None:
        await loaded(pilot)
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, WallScreen))
        await pilot.press(page)
        await pilot.pause(0.3)

    app = WallApp(fleet(), theme=theme, cycle_s=0)
    assert snap_compare(app, terminal_size=SIZES[size], run_before=run_before)


def test_production_context_ansi(snap_compare) -> None:  # type: ignore[no-untyped-def]
    """A production context: red header and frame, in the 16-colour theme, at 80x24."""

    async def run_before(pilot: Pilot) -> None:
        await loaded(pilot)
        await STEPS["inventory"](pilot)

    app = NovaApp(fleet(), theme="novacron-ansi", production=True)
    assert snap_compare(app, terminal_size=SIZES["80x24"], run_before=run_before)
