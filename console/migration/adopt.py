"""Migrations started outside this console (a colleague's console, `virsh migrate`, another tool).

During a live migration the target host lists the incoming domain as MIGRATING (paused, reason
migration) while the source host still lists the same UUID. `sightings` finds those pairs in a
fleet snapshot: pure, no call to any host, so it costs nothing on every poll. `AdoptionWatch`
feeds each new snapshot to it and asks the tracker to adopt what it does not follow yet, one
attempt per VM at a time; the tracker confirms with the source's job before showing anything
(a snapshot can lag behind a migration that just ended), and a refused sighting is not asked
about again for `retry_s`.

No Textual here: the app hands snapshots to `AdoptionWatch.feed`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

from console.models import VM, FleetSnapshot, VMState

if TYPE_CHECKING:
    from console.migration.tracker import MigrationTracker

log = logging.getLogger(__name__)

ADOPTED_NOTE = "started outside this console"
CAN_SEND = frozenset({VMState.RUNNING, VMState.PAUSED, VMState.MIGRATING, VMState.UNKNOWN})
"""States a source can be in mid-migration (a shut-off leftover definition cannot send)."""


@dataclass(frozen=True, slots=True)
class Sighting:
    """A VM seen arriving on one host (`incoming`, MIGRATING) while `source` still lists it."""

    source: VM
    incoming: VM

    @property
    def vm_id(self) -> str:
        return self.incoming.id

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.vm_id, self.source.backend, self.incoming.backend)


def sightings(snapshot: FleetSnapshot, followed: Collection[str] = ()) -> list[Sighting]:
    """Live migrations visible in `snapshot`, except those of the VM ids in `followed`.

    Stale data (a source that did not answer) proves nothing and is ignored. When both copies
    are MIGRATING (the source pauses at the switch-over, or in an offline migration) the
    direction is unknown: both are returned, the likelier one (a running source) first, and
    the source's job decides.
    """
    arriving = {vm.id for vm in snapshot.vms
                if vm.state is VMState.MIGRATING and not vm.stale} - set(followed)
    if not arriving:  # the usual case: one cheap pass over the fleet
        return []
    copies: dict[str, list[VM]] = {}
    for vm in snapshot.vms:
        if vm.id in arriving and not vm.stale:
            copies.setdefault(vm.id, []).append(vm)
    found: list[tuple[bool, Sighting]] = []
    for same in copies.values():
        for incoming in same:
            if incoming.state is not VMState.MIGRATING:
                continue
            for source in same:
                if source.backend == incoming.backend or source.state not in CAN_SEND:
                    continue
                found.append((source.state is VMState.MIGRATING, Sighting(source, incoming)))
    return [seen for _, seen in sorted(found, key=lambda pair: pair[0])]


class AdoptionWatch:
    """Turns fleet snapshots into `MigrationTracker.adopt` calls, without asking twice."""

    def __init__(self, tracker: MigrationTracker, *, retry_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.tracker = tracker
        self.retry_s = retry_s
        self._clock = clock
        self._pending: dict[str, asyncio.Task[None]] = {}
        self._refused: dict[tuple[str, str, str], float] = {}

    def feed(self, snapshot: FleetSnapshot | None) -> None:
        """Look at one snapshot (on the event loop); adoption itself runs in the background."""
        if snapshot is None:
            return
        now = self._clock()
        self._refused = {key: until for key, until in self._refused.items() if until > now}
        followed = {s.vm_id for s in self.tracker.states() if s.active} | self._pending.keys()
        for seen in sightings(snapshot, followed):
            if seen.vm_id in self._pending or seen.key in self._refused:
                continue
            task = asyncio.create_task(self._adopt(seen), name=f"adopt:{seen.source.name}")
            self._pending[seen.vm_id] = task
            task.add_done_callback(functools.partial(self._forget, seen.vm_id))

    def _forget(self, vm_id: str, _done: object) -> None:
        self._pending.pop(vm_id, None)

    async def settled(self) -> None:
        """Wait for the adoption attempts under way (for tests and an orderly shutdown)."""
        while self._pending:
            await asyncio.gather(*self._pending.values(), return_exceptions=True)

    async def _adopt(self, seen: Sighting) -> None:
        adopted = None
        try:
            adopted = await self.tracker.adopt(seen)
        except Exception:  # a failed attempt must not stop the next snapshot's
            log.exception("adopting the migration of %s failed", seen.source.name)
        if adopted is None:
            self._refused[seen.key] = self._clock() + self.retry_s
