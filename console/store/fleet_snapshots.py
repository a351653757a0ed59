"""The last fleet snapshot per context, so a starting console paints at once.

A snapshot is a cache: one that cannot be read (corrupt, or from an incompatible model)
is reported as absent, never as an error that stops the console. Encoding and decoding run
in a thread so a large fleet does not freeze the event loop.
"""

from __future__ import annotations

import asyncio
import logging

from console.models import FleetSnapshot
from console.store import identity, snapshot_codec
from console.store.core import StoreCore

log = logging.getLogger(__name__)


class FleetSnapshots(StoreCore):
    """Snapshot methods of the store. The caller decides how often to save (every N s)."""

    async def save_snapshot(self, context: str, snapshot: FleetSnapshot) -> int:
        """Replace the context's stored snapshot; returns the compressed size in bytes."""
        blob = await asyncio.to_thread(snapshot_codec.encode, snapshot)
        saved_at, _ = identity.now()
        async with self._write() as db:
            await db.execute(
                "INSERT INTO fleet_snapshot (context, taken_at, saved_at,"
                " host_count, vm_count, format, blob) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (context) DO UPDATE SET taken_at = excluded.taken_at,"
                " saved_at = excluded.saved_at, host_count = excluded.host_count,"
                " vm_count = excluded.vm_count, format = excluded.format, blob = excluded.blob",
                (context, snapshot.taken_at, saved_at, len(snapshot.hosts),
                 len(snapshot.vms), snapshot_codec.FORMAT, blob))
        return len(blob)

    async def load_snapshot(self, context: str) -> FleetSnapshot | None:
        """The stored snapshot (with `restored=True`: stale until the first sweep), or None."""
        async with self._read() as db:
            rows = list(await db.execute_fetchall(
                "SELECT blob FROM fleet_snapshot WHERE context = ?", (context,)))
        if not rows:
            return None
        try:
            return await asyncio.to_thread(snapshot_codec.decode, bytes(rows[0][0]))
        except snapshot_codec.SnapshotFormatError as exc:
            log.warning("ignoring the stored snapshot of %r: %s", context, exc)
            return None
