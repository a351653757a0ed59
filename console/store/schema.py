"""SQLite's schema as an ordered list of forward migrations; `PRAGMA user_version` counts them.

Never edit a step once released: append a new one. A database whose version is higher than
the number of steps was written by a newer console, and is refused rather than guessed at.
"""

from __future__ import annotations

from pathlib import Path

import aiosqlite

from console.store.core import STORE_INCOMPATIBLE, StoreError

APPLICATION_ID = 0x4E4F5641
"""'NOVA' in the file header, so the store never writes into someone else's database."""

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: audit log, migration history, fleet snapshots, saved filters.
    (
        """CREATE TABLE audit (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            idempotency_key TEXT NOT NULL UNIQUE,
            who TEXT NOT NULL,
            started_at REAL NOT NULL,
            started_iso TEXT NOT NULL,
            context TEXT NOT NULL,
            target_kind TEXT NOT NULL,
            target_id TEXT NOT NULL,
            target_name TEXT NOT NULL,
            action TEXT NOT NULL,
            params_json TEXT NOT NULL DEFAULT '{}',
            status TEXT NOT NULL
                CHECK (status IN ('started', 'ok', 'failed', 'refused')),
            finished_at REAL,
            duration_s REAL,
            error_code TEXT NOT NULL DEFAULT '',
            error_message TEXT NOT NULL DEFAULT '',
            error_cause TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX audit_by_time ON audit (started_at)",
        "CREATE INDEX audit_unfinished ON audit (status) WHERE status = 'started'",
        """CREATE TABLE migration (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            context TEXT NOT NULL,
            vm_id TEXT NOT NULL,
            vm_name TEXT NOT NULL,
            source TEXT NOT NULL,
            target TEXT NOT NULL,
            who TEXT NOT NULL,
            job_id TEXT NOT NULL DEFAULT '',
            audit_id INTEGER REFERENCES audit (id),
            started_at REAL NOT NULL,
            finished_at REAL,
            phase TEXT NOT NULL,
            stats_json TEXT NOT NULL DEFAULT '{}',
            error TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX migration_unfinished ON migration (context) WHERE finished_at IS NULL",
        """CREATE TABLE fleet_snapshot (
            context TEXT PRIMARY KEY,
            taken_at REAL NOT NULL,
            saved_at REAL NOT NULL,
            host_count INTEGER NOT NULL,
            vm_count INTEGER NOT NULL,
            format INTEGER NOT NULL,
            blob BLOB NOT NULL
        )""",
        """CREATE TABLE saved_filter (
            name TEXT PRIMARY KEY,
            text TEXT NOT NULL,
            updated_at REAL NOT NULL
        )""",
    ),
    # 2: an unfinished audit row locks its target across consoles (`target_lock`): it names
    # the process that wrote it (pid, its start time, hostname) and when it stops holding.
    (
        "ALTER TABLE audit ADD COLUMN pid INTEGER",
        "ALTER TABLE audit ADD COLUMN pid_start INTEGER",
        "ALTER TABLE audit ADD COLUMN hostname TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE audit ADD COLUMN deadline_at REAL",
        "ALTER TABLE audit ADD COLUMN abandoned_at REAL",
        "CREATE INDEX audit_in_flight ON audit (context, target_id) WHERE status = 'started'",
    ),
    # 3: a migration row names the console that started it, for the activity feed.
    (
        "ALTER TABLE migration ADD COLUMN pid INTEGER",
        "ALTER TABLE migration ADD COLUMN hostname TEXT NOT NULL DEFAULT ''",
    ),
    # 4: an action that is a long-running operation (Azure) keeps what resumes watching it.
    (
        "ALTER TABLE audit ADD COLUMN resume_json TEXT NOT NULL DEFAULT ''",
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)


async def _pragma_int(conn: aiosqlite.Connection, name: str) -> int:
    cursor = await conn.execute(f"PRAGMA {name}")
    row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def check_compatible(conn: aiosqlite.Connection, path: Path) -> int:
    """Refuse a foreign or newer database; return its schema version."""
    app_id = await _pragma_int(conn, "application_id")
    if app_id not in (0, APPLICATION_ID):
        raise StoreError(STORE_INCOMPATIBLE, f"{path} is not a NovaCron store",
                         f"application_id is {app_id:#x}; point NOVACRON_STATE_DIR elsewhere")
    version = await _pragma_int(conn, "user_version")
    if version > SCHEMA_VERSION:
        raise StoreError(
            STORE_INCOMPATIBLE,
            f"{path} has schema version {version}, newer than this console understands "
            f"({SCHEMA_VERSION})",
            "it was written by a newer novacron-console: upgrade, or use another state dir",
        )
    return version


async def migrate(conn: aiosqlite.Connection, path: Path) -> int:
    """Apply the missing steps; the caller holds a write transaction (BEGIN IMMEDIATE).

    The version is re-read inside the transaction, so two consoles starting on a fresh
    file apply each step exactly once.
    """
    version = await check_compatible(conn, path)
    if version < SCHEMA_VERSION and version == 0:
        cursor = await conn.execute("SELECT count(*) FROM sqlite_schema")
        row = await cursor.fetchone()
        if row and row[0]:
            raise StoreError(STORE_INCOMPATIBLE, f"{path} already holds other tables",
                             "it is not a NovaCron store; point NOVACRON_STATE_DIR elsewhere")
    for step in MIGRATIONS[version:]:
        for statement in step:
            await conn.execute(statement)
    if version < SCHEMA_VERSION:
        await conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        await conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return SCHEMA_VERSION
