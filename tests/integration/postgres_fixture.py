"""A real PostgreSQL 15 server for the store's tests and benchmarks (Debian's postgresql-15).

Started once per test session (or per benchmark run): `initdb` into a temporary directory,
`pg_ctl` on a free 127.0.0.1 port with a socket directory of its own, run as the unprivileged
`postgres` user when we are root (the server refuses to run as root), as ourselves otherwise.
The superuser connects without a password (trust, loopback only); every other role must give
its password (scram-sha-256), which is how the tests show `.pgpass` at work.

Each test gets a fresh schema in the `novacron` database (`fresh_url`): its tables, triggers
and lock keys are its own, and creating a schema costs milliseconds where a database costs a
second. Plain functions and a context manager (no pytest import), so benchmarks can use it.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg

PG_BIN = Path("/usr/lib/postgresql/15/bin")
DATABASE = "novacron"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_user() -> tuple[str, list[str]]:
    """Who runs the server, and the command prefix that becomes them."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name, []
    return "postgres", ["runuser", "-u", "postgres", "--"]


@dataclass(frozen=True)
class PostgresServer:
    port: int
    superuser: str
    data_dir: Path
    socket_dir: Path
    log: Path

    def url(self, user: str | None = None, dbname: str = DATABASE, **params: str) -> str:
        query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
        return (f"postgresql://{user or self.superuser}@127.0.0.1:{self.port}/{dbname}"
                + (f"?{query}" if query else ""))

    def admin(self, dbname: str = DATABASE) -> psycopg.Connection:
        return psycopg.connect(self.url(dbname=dbname), autocommit=True)

    def fresh_schema(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with self.admin() as conn:
            conn.execute(f"CREATE SCHEMA {name}")
        return name

    def fresh_url(self, user: str | None = None) -> str:
        """A store URL on a schema of its own (`search_path` through libpq's `options`)."""
        schema = self.fresh_schema()
        if user is not None:
            with self.admin() as conn:
                conn.execute(f"GRANT ALL ON SCHEMA {schema} TO {user}")
        return self.url(user, options=f"-csearch_path={schema}")


def _run(prefix: list[str], *args: str | Path) -> None:
    result = subprocess.run([*prefix, *map(str, args)], capture_output=True, text=True,
                            timeout=120, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{args[0]} failed: {result.stdout}{result.stderr}")


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """Start a PostgreSQL 15 server, yield it, stop it and remove its files."""
    if not (PG_BIN / "pg_ctl").exists():
        raise RuntimeError(f"{PG_BIN}/pg_ctl is missing: install Debian's postgresql-15 "
                           "(make setup does)")
    user, prefix = _server_user()
    top = Path(tempfile.mkdtemp(prefix="novacron-pg-"))
    data, sockets, log = top / "data", top / "sock", top / "server.log"
    sockets.mkdir()
    if prefix:
        shutil.chown(top, user)
        shutil.chown(sockets, user)
    port = free_port()
    try:
        _run(prefix, PG_BIN / "initdb", "-D", data, "-U", user, "--auth=trust", "-E", "UTF8",
             "--no-sync", "--no-instructions")
        (data / "pg_hba.conf").write_text(
            "local all all trust\n"
            f"host all {user} 127.0.0.1/32 trust\n"
            "host all all 127.0.0.1/32 scram-sha-256\n")
        _run(prefix, PG_BIN / "pg_ctl", "-D", data, "-l", log, "-w", "-t", "60", "-o",
             f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c max_connections=60"
             " -c shared_buffers=32MB", "start")
        server = PostgresServer(port, user, data, sockets, log)
        with psycopg.connect(server.url(dbname="postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
        yield server
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([*prefix, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate",
                            "-w", "stop"], capture_output=True, timeout=60, check=False)
        shutil.rmtree(top, ignore_errors=True)


_shared: PostgresServer | None = None
_stack = contextlib.ExitStack()


def shared_server() -> PostgresServer:
    """One server for the whole process (test session or benchmark run), whichever module
    asks first; stopped when the process exits."""
    global _shared
    if _shared is None:
        _shared = _stack.enter_context(postgres_server())
        atexit.register(_stack.close)
    return _shared


ENGINES = ("sqlite", "postgresql")


def store_location(engine: str, tmp_path: Path) -> str:
    """Where a test's fresh store lives on `engine`: a file, or a URL on a schema of its own."""
    if engine == "sqlite":
        return str(tmp_path / "novacron.db")
    return shared_server().fresh_url()


def query(db: str, sql: str) -> list[tuple[object, ...]]:
    """Rows of `sql` read by a connection of our own; none if a writer died before creating
    the schema (no file, no table)."""
    if db.startswith("postgresql://"):
        with psycopg.connect(db, autocommit=True) as conn:
            if conn.execute("SELECT to_regclass('audit')").fetchone() == (None,):
                return []
            return list(conn.execute(sql))
    if not Path(db).exists():
        return []
    with sqlite3.connect(db) as conn:
        if conn.execute("SELECT 1 FROM sqlite_schema WHERE name = 'audit'").fetchone() is None:
            return []
        return list(conn.execute(sql))


def wait_session_gone(server: PostgresServer, backend_pid: int, timeout_s: float = 30.0) -> float:
    """Wait until the server has ended the session `backend_pid` (its locks are then free);
    returns how long it took. A bound for a loaded machine, not a speed check."""
    started = time.monotonic()
    with server.admin() as conn:
        while conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s",
                           (backend_pid,)).fetchone():
            if time.monotonic() - started > timeout_s:
                raise AssertionError(f"session {backend_pid} still there after {timeout_s} s")
            time.sleep(0.01)
    return time.monotonic() - started
