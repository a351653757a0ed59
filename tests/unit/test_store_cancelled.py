"""A console task cancelled while the SQLite store opens a transaction (quitting mid-save, a
replaced worker) must not leave that transaction open: aiosqlite runs the `BEGIN` on its own
thread, which finishes after the coroutine awaiting it was cancelled. Left open, every later
write failed with "cannot start a transaction within a transaction" and the snapshot, audit
rows and migrations of the rest of the session were lost."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from console.store.sqlite import SqliteEngine


async def cancelled_while_beginning(engine: SqliteEngine, db_file: Path) -> None:
    """Hold the database's write lock from another connection, so the store's BEGIN waits on
    aiosqlite's thread (busy timeout), cancel the task waiting for it, then let go."""
    other = sqlite3.connect(db_file, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # the write lock: the store's BEGIN IMMEDIATE waits

    async def use() -> None:
        async with engine.write() as db:
            await db.execute("SELECT 1")

    task = asyncio.create_task(use())
    await asyncio.sleep(0.3)  # the BEGIN is now waiting for the lock on the store's thread
    task.cancel()
    await asyncio.sleep(0.1)
    other.execute("ROLLBACK")  # the waiting BEGIN goes through now, on the store's thread
    other.close()
    assert isinstance((await asyncio.gather(task, return_exceptions=True))[0],
                      asyncio.CancelledError)


async def test_a_write_cancelled_while_beginning_leaves_no_transaction_open(
        tmp_path: Path) -> None:
    db_file = tmp_path / "novacron.db"
    engine = await SqliteEngine.open(db_file)
    try:
        await cancelled_while_beginning(engine, db_file)
        async with engine.write() as db:  # failed: "cannot start a transaction within …"
            await db.execute("CREATE TABLE IF NOT EXISTS probe (x)")
            await db.execute("INSERT INTO probe VALUES (1)")
        async with engine.read() as db:
            rows = await (await db.execute("SELECT count(*) FROM probe")).fetchall()
        assert rows == [(1,)]
    finally:
        await engine.close()
