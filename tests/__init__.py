"""NovaCron's tests, by layer: unit/ (no UI, no server), functional/ (`App.run_test`),
snapshots/ (pictures at 80x24 and 160x48), integration/ (real servers the tests start),
bench/ (`make bench`, never timed in the suite).

The plumbing every layer shares lives here: waiting for a condition inside a running app.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


async def wait_for(pilot: Any, predicate: Callable[[], object], timeout_s: float = 10.0,
                   what: str = "condition") -> float:
    """Let the app run until `predicate()` is true; return how long it took. Fails naming
    `what` after `timeout_s` (a generous bound for a loaded machine, not a speed check)."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"after {timeout_s:g} s: {what} never became true")
        await pilot.pause(0.05)
    return time.monotonic() - started


async def settle(pilot: Any, app: Any) -> None:
    """Let the app's workers (actions, polls started by a key) finish, and repaint."""
    await pilot.pause(0.1)
    await app.workers.wait_for_complete()
    await pilot.pause(0.1)
