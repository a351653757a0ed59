"""Full garbage collections kept off the operator's keys at 100k VMs.

A full collection walks every object the collector tracks: at 100k VMs (VMs, table rows,
metric series) over a million, 0.4-1.1 s with the GIL held, the console's longest stalls. The
bulk is acyclic and replaced by the next poll (reference counting frees it), so once a large
snapshot has settled (recorded, shown) everything alive is frozen (`gc.freeze`): later
collections walk only what is younger. A frozen object still dies when no longer referenced;
only garbage held in a reference cycle (a closed screen's widgets, a footer recomposed) waits
for the full collection `settle` runs every `FULL_EVERY_S`, so memory stays bounded.
"""

from __future__ import annotations

import gc
import time

FULL_EVERY_S = 600.0
"""Seconds between the full collections that free frozen reference cycles (one stall each)."""

_last_full = time.monotonic()


def settle() -> None:
    """Take what is alive now out of the collector's walks (a list splice), after a full
    collection if the last one is `FULL_EVERY_S` old."""
    global _last_full
    now = time.monotonic()
    if now - _last_full >= FULL_EVERY_S:
        _last_full = now
        gc.unfreeze()
        gc.collect()
    gc.freeze()
