"""Keep the last fleet snapshot per context in the store, so the console paints at once.

At start the stored snapshot is shown immediately, every source marked stale with its true
age, until the first poll answers. While running, the newest snapshot is saved at most every
`every_s` seconds (saving 100k VMs costs about a second of CPU), and once more at exit.
"""

from __future__ import annotations

import logging
from typing import Any

from console.fleet.polling import Fleet
from console.models import FleetSnapshot

log = logging.getLogger(__name__)


class SnapshotKeeper:
    def __init__(self, store: Any, context: str, *, every_s: float = 60.0) -> None:
        self.store = store
        self.context = context
        self.every_s = every_s
        self._saved_generation = -1

    async def restore_into(self, fleet: Fleet) -> bool:
        """Seed `fleet` with the stored snapshot (before it starts). True if there was one."""
        try:
            snapshot = await self.store.load_snapshot(self.context)
        except Exception as exc:  # a broken cache must never stop the console
            log.warning("could not load the stored snapshot: %s", exc)
            return False
        if snapshot is None:
            return False
        fleet.restore(snapshot)
        return True

    async def save(self, snapshot: FleetSnapshot | None) -> None:
        """Save `snapshot` unless it is the one saved last or has never been polled."""
        if snapshot is None or snapshot.generation == self._saved_generation:
            return
        if not any(h.ok for h in snapshot.health):
            return  # only restored or failing data: nothing new worth keeping
        try:
            await self.store.save_snapshot(self.context, snapshot)
            self._saved_generation = snapshot.generation
        except Exception as exc:
            log.warning("could not save the snapshot: %s", exc)
