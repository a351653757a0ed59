"""Fixtures shared by the functional tests: the demo console, running headless."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.app import NovaApp
from console.config import demo_context
from console.fleet.polling import Fleet
from console.fleet.sources import build_backends
from screens.inventory import InventoryScreen
from tests import wait_for


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NOVACRON_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("NOVACRON_CONFIG", str(tmp_path / "absent.toml"))
    return tmp_path


@pytest.fixture
async def demo_app(state_dir: Path):  # type: ignore[no-untyped-def]
    fleet = Fleet("demo", build_backends(demo_context(), read_only=False), interval_s=30.0)
    app = NovaApp(fleet)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, InventoryScreen)
                       and app.screen.table.row_count == 60)
        yield app, pilot
