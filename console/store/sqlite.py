"""The SQLite engine: one file, one connection per console, the embedded default.

Every write runs inside `BEGIN IMMEDIATE`, so the write lock is taken up front and a second
console waits (`busy_timeout`) instead of failing half-way through a transaction. WAL with
`synchronous=FULL` means a commit that returned is on disk: an audit row acknowledged to the
caller survives `kill -9` and power loss alike. The per-target lock is the audit rows
themselves, judged by pid and deadline (`target_lock`): good for consoles on one machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite

from console.store import schema, target_lock
from console.store.core import STORE_UNAVAILABLE, StoreError
from console.store.holder import Holder

BUSY_TIMEOUT_MS = 5000
"""How long a writer waits for another console's transaction before giving up."""


class SqliteEngine:
    """Owns the aiosqlite connection and serialises this process's use of it.

    aiosqlite runs one connection on one thread, but two coroutines could still interleave
    their statements inside one transaction; the asyncio lock keeps each transaction whole.
    """

    name = "sqlite"
    latest_schema_version = schema.SCHEMA_VERSION

    def __init__(self, path: Path, conn: aiosqlite.Connection) -> None:
        self.path = path
        self.where = str(path)
        self._conn = conn
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, where: Path, *, migrate: bool = True) -> SqliteEngine:
        """Connect, bring the schema up to date (unless not `migrate`), refuse a newer or
        foreign database."""
        try:
            conn = await connect(where)
        except sqlite3.Error as exc:
            raise StoreError(STORE_UNAVAILABLE, f"cannot open the store {where}",
                             str(exc)) from exc
        store = cls(where, conn)
        try:
            version = await schema.check_compatible(conn, where)
            if migrate and version < schema.SCHEMA_VERSION:
                async with store.write() as db:
                    await schema.migrate(db, where)  # type: ignore[arg-type]
        except sqlite3.Error as exc:
            await conn.close()
            raise StoreError(STORE_UNAVAILABLE, f"cannot open the store {where}",
                             str(exc)) from exc
        except BaseException:
            await conn.close()
            raise
        return store

    async def close(self) -> None:
        async with self._lock:
            await self._conn.close()

    async def schema_version(self) -> int:
        async with self.read() as db:
            rows = list(await db.execute_fetchall("PRAGMA user_version"))
        return int(rows[0][0])

    async def _begin(self, statement: str) -> None:
        """Run `statement` (a BEGIN). aiosqlite runs it on its own thread, which finishes it
        even when the awaiting task is cancelled (a console quitting mid-save): then end the
        transaction it opened, or every later BEGIN on this connection fails."""
        begun = asyncio.ensure_future(self._conn.execute(statement))
        try:
            await asyncio.shield(begun)
        except asyncio.CancelledError:
            with contextlib.suppress(sqlite3.Error):
                await begun
                await self._conn.execute("ROLLBACK")
            raise

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            try:
                await self._begin("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._unavailable(exc) from exc
            try:
                yield self._conn
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    await self._conn.execute("ROLLBACK")
                raise
            try:
                await self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    await self._conn.execute("ROLLBACK")
                raise self._unavailable(exc) from exc

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[aiosqlite.Connection]:
        """Reads see one consistent state of the database (a WAL read snapshot)."""
        async with self._lock:
            await self._begin("BEGIN DEFERRED")
            try:
                yield self._conn
            finally:
                with contextlib.suppress(sqlite3.Error):
                    await self._conn.execute("COMMIT")

    def _unavailable(self, exc: BaseException) -> StoreError:
        return StoreError(STORE_UNAVAILABLE, f"the store {self.path} could not be written",
                          str(exc))

    # -- the lock: unfinished rows, judged by pid and deadline ---------------------------------

    async def claim_target(self, db: Any, context: str, target_id: str, now: float, *,
                           patient: bool = False) -> Holder | None:
        return await target_lock.holder_of(db, context, target_id, now)

    async def peek_holder(self, db: Any, context: str, target_id: str,
                          now: float) -> Holder | None:
        return await target_lock.holder_of(db, context, target_id, now, close_abandoned=False)

    def session_columns(self, claimed: bool) -> dict[str, Any]:
        pid = os.getpid()
        return {"pid": pid, "pid_start": target_lock.process_start(pid),
                "hostname": target_lock.hostname()}

    async def claimed(self, action_id: int, context: str, target_id: str) -> None:
        """Nothing to note: the committed `started` row is the lock."""

    async def unclaim(self, context: str, target_id: str) -> None:
        """Nothing to give back: a row never committed never held anything."""

    async def release(self, db: Any, action_id: int) -> None:
        """Nothing to free: the row's new status is the release."""

    async def durability(self) -> str:
        async with self.read() as db:
            [(journal,)] = await db.execute_fetchall("PRAGMA journal_mode")
            [(sync,)] = await db.execute_fetchall("PRAGMA synchronous")
        return f"journal_mode={journal} synchronous={ {2: 'FULL', 3: 'EXTRA'}.get(sync, sync)}"

    async def subscribe(self) -> None:
        """No channel of its own: the store polls the tables (`console.store.activity`)."""
        return None


async def _switch_to_wal(conn: aiosqlite.Connection) -> Any:
    """`PRAGMA journal_mode = WAL`, retried: on a fresh file another console may be switching
    it at the same moment, and SQLite then answers "database is locked" at once, without
    waiting for busy_timeout (it would otherwise risk a deadlock)."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor = await conn.execute("PRAGMA journal_mode = WAL")
            return await cursor.fetchone()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            await asyncio.sleep(random.uniform(0.01, 0.05))


async def connect(path: Path) -> aiosqlite.Connection:
    """Open `path` with the pragmas every connection needs (autocommit: we issue BEGIN)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = await aiosqlite.connect(path, isolation_level=None)
    try:
        # busy_timeout first: switching to WAL needs a lock another console may hold.
        await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        row = await _switch_to_wal(conn)
        if row is None or str(row[0]).lower() != "wal":
            raise sqlite3.OperationalError(f"journal_mode is {row[0] if row else '?'}, not wal")
        await conn.execute("PRAGMA synchronous = FULL")
        await conn.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        await conn.close()
        raise
    return conn
