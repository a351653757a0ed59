"""The PostgreSQL engine's connection: libpq through psycopg 3, one session per console.

The URL goes to libpq as it is (TLS options, `PGPASSFILE`/`.pgpass`, `PG*` variables, service
files all work as operators expect); we only add what the URL leaves unsaid: a connect
timeout and an application name. Each session then asks the server for what our promises
need, whatever the database's defaults:

- `synchronous_commit = on`: a commit that returned is in the server's WAL on disk (and on a
  synchronous standby, if the cluster has one): an acknowledged audit row is never lost;
- TCP keepalives on the server's side of our socket: a console whose network vanished has its
  session ended, and so its advisory locks released, within about half a minute, instead of
  the kernel's two hours.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from console.store.core import STORE_UNAVAILABLE, StoreError

CONNECT_TIMEOUT_S = 10
APPLICATION_NAME = "novacron-console"
SESSION_SETTINGS = (
    "SET synchronous_commit = on",
    "SET tcp_keepalives_idle = 10",
    "SET tcp_keepalives_interval = 5",
    "SET tcp_keepalives_count = 3",
)

_PLACEHOLDER = re.compile(r"\?")


def pg_sql(sql: str) -> str:
    """The job modules' `?` placeholders as psycopg's `%s` (a literal % doubled)."""
    return _PLACEHOLDER.sub("%s", sql.replace("%", "%%"))


def shown(url: str) -> str:
    """The server and database a URL names, for messages (it carries no password)."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "the PostgreSQL store"
    host = info.get("host") or "the local socket"
    port = f":{info['port']}" if info.get("port") else ""
    return f"PostgreSQL {info.get('dbname') or '(default database)'} on {host}{port}"


def unavailable(where: str, exc: BaseException, doing: str = "reached") -> StoreError:
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return StoreError(STORE_UNAVAILABLE, f"the store ({where}) could not be {doing}", detail)


async def connect(url: str, where: str) -> psycopg.AsyncConnection[Any]:
    """A session with our settings; StoreError naming the server when it cannot be had."""
    try:
        given = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise StoreError(STORE_UNAVAILABLE, f"the store URL cannot be read: {where}",
                         str(exc)) from exc
    extra: dict[str, Any] = {}
    if "connect_timeout" not in given:
        extra["connect_timeout"] = CONNECT_TIMEOUT_S
    if "application_name" not in given:
        extra["application_name"] = APPLICATION_NAME
    try:
        conn = await psycopg.AsyncConnection.connect(url, autocommit=True, **extra)
    except psycopg.Error as exc:
        raise unavailable(where, exc) from exc
    try:
        for statement in SESSION_SETTINGS:
            await conn.execute(statement)
    except BaseException:
        await conn.close()
        raise
    return conn


class PgDb:
    """A transaction handle with the shape the job modules use (aiosqlite's)."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._conn = conn

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Any:
        return await self._conn.execute(pg_sql(sql), tuple(parameters))

    async def execute_fetchall(self, sql: str, parameters: Sequence[Any] = ()) -> list[Any]:
        cursor = await self._conn.execute(pg_sql(sql), tuple(parameters))
        return await cursor.fetchall() if cursor.description is not None else []


class Session:
    """One connection, its transactions kept whole by an asyncio lock (psycopg serialises
    statements, but two coroutines could still interleave theirs inside one transaction)."""

    def __init__(self, url: str, where: str, conn: psycopg.AsyncConnection[Any]) -> None:
        self.url = url
        self.where = where
        self.conn = conn
        self.lock = asyncio.Lock()

    async def close(self) -> None:
        async with self.lock:
            await self.conn.close()

    @contextlib.asynccontextmanager
    async def transaction(self, doing: str) -> AsyncIterator[PgDb]:
        """One transaction; a lost server becomes a StoreError naming it (the caller's
        action is then refused with that reason)."""
        async with self.lock:
            try:
                async with self.conn.transaction():
                    yield PgDb(self.conn)
            except psycopg.OperationalError as exc:
                raise unavailable(self.where, exc, doing) from exc

    async def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """One value, outside any transaction (advisory locks, session facts)."""
        async with self.lock:
            try:
                cursor = await self.conn.execute(sql, tuple(params))
                row = await cursor.fetchone()
            except psycopg.OperationalError as exc:
                raise unavailable(self.where, exc) from exc
        return row[0] if row else None
