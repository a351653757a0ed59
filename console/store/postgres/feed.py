"""The activity feed on PostgreSQL: LISTEN on a connection of its own.

The triggers of schema step 1 send `pg_notify('novacron_activity', <row as JSON>)` in the
transaction that writes an audit or migration row, so an event is delivered exactly when its
row is committed (never for a rolled-back one), to every console listening on the database.
Rows of another schema (another store in the same database) are skipped.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

import psycopg

from console.store.activity import Activity, ActivityFeed, from_audit, from_migration
from console.store.postgres.connection import connect, unavailable

CHANNEL = "novacron_activity"


class ListeningFeed(ActivityFeed):
    """`activity()` by LISTEN/NOTIFY (the poll interval is not used)."""

    url: str
    schema_name: str

    async def activity(self, poll_s: float = 0.0) -> AsyncGenerator[Activity, None]:
        conn = await connect(self.url, self.where)
        try:
            await conn.execute(f"LISTEN {CHANNEL}")
        except BaseException:
            await conn.close()
            raise
        return self._listen(conn)

    async def _listen(self, conn: psycopg.AsyncConnection[Any]) -> AsyncGenerator[Activity, None]:
        try:
            async for note in conn.notifies():
                event = self._event(note.payload)
                if event is not None:
                    yield event
        except psycopg.OperationalError as exc:
            raise unavailable(self.where, exc, "listened to") from exc
        finally:
            await conn.close()

    def _event(self, payload: str) -> Activity | None:
        try:
            row: dict[str, Any] = json.loads(payload)
        except ValueError:
            return None
        if row.get("schema") != self.schema_name:
            return None
        if row.get("kind") == "audit":
            return from_audit(row, self._mine(row))
        if row.get("kind") == "migration":
            return from_migration(row, self._mine(row))
        return None
