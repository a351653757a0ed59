"""The durable store (SQLite through aiosqlite): audit log, migration history, the last
fleet snapshot per context, saved filters.

    async with open_store() as store:
        action_id = await store.begin_action(context=..., target_kind="vm", ...)

One module per job; `Store` gathers their methods over one connection.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

from console.store import core, schema
from console.store.audit import AuditLog
from console.store.core import STORE_UNAVAILABLE, StoreError
from console.store.fleet_snapshots import FleetSnapshots
from console.store.migration_rows import MigrationHistory
from console.store.saved_filters import SavedFilters
from console.store.schema import SCHEMA_VERSION
from console.store.target_lock import Holder, TargetBusy

__all__ = ["SCHEMA_VERSION", "Holder", "Store", "StoreError", "TargetBusy", "default_path",
           "open_store"]

DB_NAME = "novacron.db"


def default_path() -> Path:
    """`novacron.db` in the user's state directory (`NOVACRON_STATE_DIR` overrides)."""
    from console.config import state_dir  # deferred: config pulls in pydantic

    return state_dir() / DB_NAME


class Store(AuditLog, MigrationHistory, FleetSnapshots, SavedFilters):
    """The store: open it with `Store.open(path)` or `open_store()`, close it when done."""

    @classmethod
    async def open(cls, path: Path | str | None = None) -> Store:
        """Connect, bring the schema up to date, refuse a newer or foreign database."""
        where = Path(path) if path is not None else default_path()
        try:
            conn = await core.connect(where)
        except sqlite3.Error as exc:
            raise StoreError(STORE_UNAVAILABLE, f"cannot open the store {where}",
                             str(exc)) from exc
        store = cls(where, conn)
        try:
            version = await schema.check_compatible(conn, where)
            if version < SCHEMA_VERSION:
                async with store._write() as db:
                    await schema.migrate(db, where)
        except sqlite3.Error as exc:
            await conn.close()
            raise StoreError(STORE_UNAVAILABLE, f"cannot open the store {where}",
                             str(exc)) from exc
        except BaseException:
            await conn.close()
            raise
        return store

    async def schema_version(self) -> int:
        async with self._read() as db:
            rows = list(await db.execute_fetchall("PRAGMA user_version"))
        return int(rows[0][0])


@contextlib.asynccontextmanager
async def open_store(path: Path | str | None = None) -> AsyncIterator[Store]:
    """The store for the duration of a block (the CLI wraps this in `asyncio.run`)."""
    store = await Store.open(path)
    try:
        yield store
    finally:
        await store.close()
