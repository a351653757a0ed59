"""The PostgreSQL engine: transactions, session identity, and the per-target lock the server
enforces.

A target is taken with a session-level advisory lock (`pg_try_advisory_lock`) on a 64-bit
hash of (schema, context, target id), held by this console's connection for the action's
duration and released when its outcome is committed. If the console dies (kill -9, power,
lost network), its server session ends and PostgreSQL releases the lock itself: no pid,
hostname or clock is consulted. The audit row names the session that wrote it (backend pid
and start time), so the next console to take the VM closes the rows of sessions that no
longer exist as abandoned, and a refusal names the holder from its audit row.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import datetime
from typing import Any

from console.store.activity import Activity
from console.store.core import ClaimRace
from console.store.holder import Holder, hostname
from console.store.postgres import feed, schema
from console.store.postgres.connection import PgDb, Session, connect, shown

log = logging.getLogger(__name__)

SESSION_GONE = "abandoned (database session ended)"

_LIVE = ("EXISTS (SELECT 1 FROM pg_stat_activity s"
         " WHERE s.pid = audit.session_pid AND s.backend_start = audit.session_start)")
_HOLDER = ("SELECT id, action, who, started_iso, pid, hostname FROM audit"
           " WHERE status = 'started' AND context = ? AND target_id = ? AND holds_target"
           f" AND {_LIVE} ORDER BY id DESC LIMIT 1")


async def _identity(conn: Any) -> tuple[str, int, datetime]:
    """The session's schema, backend pid and start: what its audit rows are known by."""
    cursor = await conn.execute(
        "SELECT current_schema(), pid, backend_start FROM pg_stat_activity"
        " WHERE pid = pg_backend_pid()")
    row = await cursor.fetchone()
    assert row is not None
    return str(row[0]), int(row[1]), row[2]


def lock_key(schema_name: str, context: str, target_id: str) -> int:
    """The advisory-lock key of a target: the same on every console, signed 64-bit."""
    digest = hashlib.blake2b(f"{schema_name}\0{context}\0{target_id}".encode(),
                             digest_size=8, person=b"novacron-lock").digest()
    return int.from_bytes(digest, "big", signed=True)


class PostgresEngine:
    """One server session per console; see the module docstring for the lock."""

    name = "postgresql"
    latest_schema_version = schema.SCHEMA_VERSION

    def __init__(self, session: Session, schema_name: str, backend_pid: int,
                 backend_start: datetime) -> None:
        self._session = session
        self.url = session.url
        self.where = session.where
        self.schema_name = schema_name
        self.backend_pid = backend_pid
        self.backend_start = backend_start
        self._held: dict[int, int | None] = {}
        """Lock key → the audit row holding it (None while that row is being written)."""
        self._held_by_row: dict[int, int] = {}

    @classmethod
    async def open(cls, url: str, *, migrate: bool = True) -> PostgresEngine:
        """Connect, bring the schema up to date (unless not `migrate`), refuse a newer or
        foreign one."""
        where = shown(url)
        conn = await connect(url, where)
        try:
            if migrate:
                await schema.migrate(conn, where)
            else:
                schema.check_version(await schema.current_version(conn, where), where)
            schema_name, pid, started = await _identity(conn)
        except BaseException:
            await conn.close()
            raise
        return cls(Session(url, where, conn), schema_name, pid, started)

    async def _reconnect_if_lost(self) -> None:
        """A session the server ended (network lost, server restarted, terminated) is
        replaced on the next use; its advisory locks went with it, and the actions that held
        them lose nothing but the lock (their outcomes are still written by row id)."""
        if not self._session.conn.broken:
            return
        async with self._session.lock:
            if not self._session.conn.broken:
                return
            log.warning("store session lost (%s): reconnecting; %d lock(s) went with it",
                        self.where, len(self._held))
            conn = await connect(self.url, self.where)
            self._session.conn = conn
            self._held.clear()
            self._held_by_row.clear()
            _schema, self.backend_pid, self.backend_start = await _identity(conn)

    async def close(self) -> None:
        await self._session.close()

    async def schema_version(self) -> int:
        async with self.read() as db:
            return await schema.current_version(db, self.where)

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[PgDb]:
        await self._reconnect_if_lost()
        async with self._session.transaction("written") as db:
            yield db

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[PgDb]:
        await self._reconnect_if_lost()
        async with self._session.transaction("read") as db:
            yield db

    # -- the lock: advisory locks of this session -----------------------------------------------

    def _key(self, context: str, target_id: str) -> int:
        return lock_key(self.schema_name, context, target_id)

    async def claim_target(self, db: Any, context: str, target_id: str, now: float, *,
                           patient: bool = False) -> Holder | None:
        key = self._key(context, target_id)
        if key in self._held:  # advisory locks stack within a session: refuse here
            mine = self._held[key]
            return await self._row_holder(db, mine) if mine is not None else Holder.here(
                "an action this console is starting")
        [(taken,)] = await db.execute_fetchall("SELECT pg_try_advisory_lock(?)", (key,))
        if not taken:
            rows = list(await db.execute_fetchall(_HOLDER, (context, target_id)))
            if rows:
                row_id, action, who, iso, pid, host = rows[0]
                return Holder(action, who, iso, pid, host, row_id)
            if patient:  # taken a moment ago, or being released: look again shortly
                raise ClaimRace(target_id)
            return Holder("an action", "another console", "(not yet recorded)", None, "?")
        self._held[key] = None
        await db.execute(
            "UPDATE audit SET status = 'failed', finished_at = ?, abandoned_at = ?,"
            " error_message = ?, error_cause = 'pid ' || coalesce(pid::text, 'unknown') || ' on '"
            " || hostname || ' (database session ' || coalesce(session_pid::text, 'unknown')"
            " || ') never recorded the outcome of ' || action || '; check the VM''s state'"
            f" WHERE status = 'started' AND context = ? AND target_id = ? AND NOT {_LIVE}",
            (now, now, SESSION_GONE, context, target_id))
        return None

    async def _row_holder(self, db: Any, row_id: int) -> Holder:
        [(action, who, iso)] = await db.execute_fetchall(
            "SELECT action, who, started_iso FROM audit WHERE id = ?", (row_id,))
        return Holder(action, who, iso, os.getpid(), hostname(), row_id)

    async def peek_holder(self, db: Any, context: str, target_id: str,
                          now: float) -> Holder | None:
        rows = list(await db.execute_fetchall(_HOLDER, (context, target_id)))
        if not rows:
            return None
        row_id, action, who, iso, pid, host = rows[0]
        return Holder(action, who, iso, pid, host, row_id)

    def session_columns(self, claimed: bool) -> dict[str, Any]:
        return {"pid": os.getpid(), "hostname": hostname(), "session_pid": self.backend_pid,
                "session_start": self.backend_start, "holds_target": claimed}

    async def claimed(self, action_id: int, context: str, target_id: str) -> None:
        key = self._key(context, target_id)
        self._held[key] = action_id
        self._held_by_row[action_id] = key

    async def unclaim(self, context: str, target_id: str) -> None:
        key = self._key(context, target_id)
        if key in self._held and self._held[key] is None:
            del self._held[key]
            await self._session.scalar("SELECT pg_advisory_unlock(%s)", (key,))

    async def release(self, db: Any, action_id: int) -> None:
        """Unlocked inside the outcome's transaction, not after it: a release queued behind
        this console's other transactions would keep the VM from everyone meanwhile."""
        key = self._held_by_row.pop(action_id, None)
        if key is not None:
            self._held.pop(key, None)
            await db.execute("SELECT pg_advisory_unlock(?)", (key,))

    async def durability(self) -> str:
        async with self.read() as db:
            rows = await db.execute_fetchall(
                "SELECT current_setting('synchronous_commit'), current_setting('fsync'),"
                " current_setting('server_version')")
        sync, fsync, version = rows[0]
        return f"synchronous_commit={sync} fsync={fsync} (PostgreSQL {version})"

    async def subscribe(self) -> AsyncGenerator[Activity, None]:
        """LISTEN/NOTIFY on a connection of its own (`console.store.postgres.feed`)."""
        return await feed.subscribe(self.url, self.where, self.schema_name)
