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

from console.store.activity import Activity, from_audit, from_migration, written_here
from console.store.postgres.connection import connect, unavailable

CHANNEL = "novacron_activity"


async def subscribe(url: str, where: str, schema_name: str) -> AsyncGenerator[Activity, None]:
    """Listening once this returns: every event committed afterwards is delivered."""
    conn = await connect(url, where)
    try:
        await conn.execute(f"LISTEN {CHANNEL}")
    except BaseException:
        await conn.close()
        raise
    return _listen(conn, where, schema_name)


async def _listen(conn: psycopg.AsyncConnection[Any], where: str,
                  schema_name: str) -> AsyncGenerator[Activity, None]:
    try:
        async for note in conn.notifies():
            event = _event(note.payload, schema_name)
            if event is not None:
                yield event
    except psycopg.OperationalError as exc:
        raise unavailable(where, exc, "listened to") from exc
    finally:
        await conn.close()


def _event(payload: str, schema_name: str) -> Activity | None:
    try:
        row: dict[str, Any] = json.loads(payload)
    except ValueError:
        return None
    if row.get("schema") != schema_name:
        return None
    if row.get("kind") == "audit":
        return from_audit(row, written_here(row))
    if row.get("kind") == "migration":
        return from_migration(row, written_here(row))
    return None
