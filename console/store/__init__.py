"""The durable store: audit log, per-VM locks, migration history, the last fleet snapshot
per context, saved filters — on SQLite (the embedded default) or PostgreSQL (team mode).

    async with open_store() as store:                      # novacron.db in the state dir
        action_id = await store.begin_action(context=..., target_kind="vm", ...)
    async with open_store("postgresql://ops@db-1/novacron?sslmode=verify-full") as store:
        ...

One module per job (`audit`, `migration_rows`, `fleet_snapshots`, `saved_filters`, the
activity feed), written once for both engines; `sqlite` and `postgres` supply the connection,
the schema migrations and the per-target lock.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from console.config import state_dir
from console.store.activity import Activity, ActivityFeed
from console.store.audit import AuditLog
from console.store.core import DuplicateAction, StoreError
from console.store.fleet_snapshots import FleetSnapshots
from console.store.holder import Holder, TargetBusy
from console.store.location import Location, parse
from console.store.migration_rows import MigrationHistory
from console.store.resume_rows import Resumable, ResumableActions
from console.store.saved_filters import SavedFilters
from console.store.schema import SCHEMA_VERSION
from console.store.sqlite import SqliteEngine

__all__ = ["SCHEMA_VERSION", "Activity", "DuplicateAction", "Holder", "Resumable", "Store",
           "StoreError", "TargetBusy", "default_path", "open_store"]

DB_NAME = "novacron.db"


def default_path() -> Path:
    """`novacron.db` in the user's state directory (`NOVACRON_STATE_DIR` overrides)."""
    return state_dir() / DB_NAME


class Store(AuditLog, MigrationHistory, FleetSnapshots, SavedFilters, ActivityFeed,
            ResumableActions):
    """The store, whichever engine: open it with `Store.open(...)` or `open_store(...)`."""

    @classmethod
    async def open(cls, location: Path | str | None = None, *, migrate: bool = True) -> Store:
        """Connect, bring the schema up to date, refuse a newer or foreign database.

        `location`: a file path, a `postgresql://` URL, or None for the default file.
        `migrate=False` leaves an older schema as it is (`novacron store check`).
        """
        where = Location(path=default_path()) if location in (None, "") else parse(location)
        if where.url is not None:
            # psycopg (and libpq through it) loads only for team mode, like a backend's SDK.
            from console.store.postgres import PostgresEngine

            return cls(await PostgresEngine.open(where.url, migrate=migrate))
        assert where.path is not None
        return cls(await SqliteEngine.open(where.path, migrate=migrate))


@contextlib.asynccontextmanager
async def open_store(location: Path | str | None = None) -> AsyncIterator[Store]:
    """The store for the duration of a block (the CLI wraps this in `asyncio.run`)."""
    store = await Store.open(location)
    try:
        yield store
    finally:
        await store.close()
