"""Full garbage collections kept off the operator's keys at 100k VMs.

A full collection walks every object the collector tracks: at 100k VMs (VMs, table rows,
metric series) over a million, 0.4-1.1 s with the GIL held, the console's longest stalls; and
with the default thresholds one ran every few seconds while a poll was applied. Nearly all
of it is acyclic and freed by reference counting when the next poll replaces it, so the
console (`quiet`) lets the young generations collect as usual but runs full collections only
on its own schedule (`collect_fully`, every `FULL_EVERY_S`): one stall then, instead of
dozens; in between, garbage held in reference cycles that outlived the young collections
(a closed screen's widgets) waits for it. Decoders freeze what they built (`gc.freeze`) so
no young collection walks it at once; `collect_fully` unfreezes it.

Letting go of a poll's worth of objects costs too: the last reference to 100k rows or VMs
dropped at once frees about a million objects in one go (20-60 ms). `discard` hands such
containers to a task that empties them a slice per turn of the event loop.
"""

from __future__ import annotations

import asyncio
import gc
from collections import deque
from typing import Any

FULL_EVERY_S = 600.0
"""Seconds between full collections (one stall each: ~0.2-0.5 s at 100k VMs)."""
NEVER = 1 << 30
DISCARD_STEP = 1000
"""Items let go of per turn of the event loop (well under a millisecond)."""

_trash: deque[list[Any] | dict[Any, Any]] = deque()
_emptying: asyncio.Task[None] | None = None


def quiet() -> tuple[int, int, int]:
    """No automatic full collection from now on (the young generations as before); the
    caller runs `collect_fully` every `FULL_EVERY_S`, and gives the returned thresholds back
    to `restore` when done."""
    before = gc.get_threshold()
    gc.set_threshold(before[0], before[1], NEVER)
    return before


def restore(thresholds: tuple[int, int, int]) -> None:
    gc.set_threshold(*thresholds)


def collect_fully() -> None:
    """The full collection `quiet` postponed, over frozen objects too."""
    gc.unfreeze()
    gc.collect()


def discard(*containers: list[Any] | dict[Any, Any]) -> None:
    """Empty these lists and dicts `DISCARD_STEP` items per turn of the running event loop.
    The caller gives them up: nothing may use them afterwards."""
    global _emptying
    _trash.extend(c for c in containers if c)
    loop = asyncio.get_running_loop()
    if _trash and (_emptying is None or _emptying.done() or _emptying.get_loop() is not loop):
        _emptying = loop.create_task(_empty())  # (a loop closed with the last one pending)


async def _empty() -> None:
    while _trash:
        container = _trash[0]
        if isinstance(container, dict):
            for _ in range(min(DISCARD_STEP, len(container))):
                container.popitem()
        else:
            del container[-DISCARD_STEP:]
        if not container:
            _trash.popleft()
        await asyncio.sleep(0)
