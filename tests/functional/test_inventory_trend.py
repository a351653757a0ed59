"""The CPU sparkline grows with every poll, even for a VM whose figures do not change.

A source that reports a steady CPU rate (Prometheus' `rate()` over a quiet guest) returns an
identical VM poll after poll: the row's data never changes, yet the VM's history gains a point
each time, and the sparkline must show them (the inventory only redraws changed rows).
The source here is a small in-test backend answering one steady VM: the screen is under test.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from console.app import NovaApp
from console.fleet.polling import Fleet
from console.models import VM, Host, VMState
from screens.inventory import TREND_POINTS, InventoryScreen

pytestmark = pytest.mark.timeout(120)

STEADY = VM(id="00000000-0000-4000-8000-00000000cafe", name="steady-01", state=VMState.RUNNING,
            host="h1", backend="steady", vcpus=2, memory_bytes=2**30, cpu_used_cores=1.0)


class SteadySource:
    kind = "steady"
    name = "steady"

    async def hosts(self) -> Sequence[Host]:
        return (Host(id="h1", name="h1", backend="steady", cpus=8, memory_bytes=2**34),)

    async def vms(self) -> Sequence[VM]:
        return (STEADY,)

    async def close(self) -> None:
        return None


async def test_sparkline_of_an_unchanging_vm_fills_up_poll_after_poll() -> None:
    app = NovaApp(Fleet("t", [SteadySource()], interval_s=0.5))  # type: ignore[list-item]
    async with app.run_test(size=(160, 30)) as pilot:
        target = f"vm:{STEADY.key}"
        for _ in range(400):  # polls every 0.5 s; no limit on how fast they come
            await pilot.pause(0.05)
            if len(app.metrics.tail(target, "cpu", TREND_POINTS)) >= 4:
                break
        await pilot.pause(0.2)
        inventory = app.screen
        assert isinstance(inventory, InventoryScreen)
        points = app.metrics.tail(target, "cpu", TREND_POINTS)
        row = inventory.table.row(STEADY.key)
        assert row is not None
        cell = row.cells[-1]
        assert len(points) >= 4
        assert len(cell) == len(points), (cell, points)  # one glyph per poll, all of them
        assert set(cell) == {cell[0]}  # a steady half-busy VM: the same level throughout
