"""The wall's numbers grow with their tiles: solid block digits on a NOC TV (240x67),
readable across a room; the three-line font where there is no room for more (80x24)."""

from __future__ import annotations

import pytest

from console.config import demo_context
from console.fleet.polling import Fleet
from console.fleet.sources import build_backends
from console.wall_app import WallApp
from tests import wait_for
from widgets.tile import BlockDigits, Tile, block_digits

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize(("size", "big"), [((240, 67), True), ((80, 24), False)])
async def test_digits_fill_big_tiles_and_stay_small_on_small_screens(size: tuple[int, int],
                                                                     big: bool) -> None:
    fleet = Fleet("demo", build_backends(demo_context(), read_only=True), interval_s=30)
    app = WallApp(fleet, cycle_s=0)
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and len(app.snapshot.vms) == 60)
        await pilot.pause(0.3)
        tiles = list(app.screen.query(Tile))
        assert len(tiles) == 10
        running = app.screen.query_one("#tile-vms-running", Tile)
        assert running.value == "43"
        if big:
            assert all(t.has_class("-big") for t in tiles)
            digits = running.query_one(BlockDigits)
            assert digits.size.height >= 10  # three-line font: 3
            assert str(digits.render()).splitlines() == block_digits("43", 6).splitlines()
        else:
            assert not any(t.has_class("-big") for t in tiles)
            assert running.query_one("#value").size.height == 3
