"""The lab's PostgreSQL, for rehearsing team mode: `lab up --store postgresql`.

Debian's postgresql-15 binaries, run as the unprivileged `postgres` user (the server refuses
root) with the data directory, socket directory and log under the lab root, listening on
127.0.0.1 only. Loopback connections are trusted: it is a rehearsal store holding no secret,
and consoles then need no password at all. `lab down` stops it with the rest; its data goes
with the lab root.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import psycopg

from console.lab.layout import LabLayout
from console.lab.procs import Proc, is_alive, port_open, spawn, wait_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
USER = "postgres"
DATABASE = "novacron"


def _as_postgres(*argv: str | Path) -> list[str]:
    """`argv` run as the postgres user (setpriv execs it: the pid we record is the server's)."""
    return ["setpriv", f"--reuid={USER}", f"--regid={USER}", "--init-groups", "--",
            *map(str, argv)]


def _initdb(data: Path) -> None:
    result = subprocess.run(_as_postgres(PG_BIN / "initdb", "-D", data, "-U", USER,
                                         "--auth=trust", "-E", "UTF8", "--no-instructions"),
                            capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"initdb failed: {result.stderr.strip() or result.stdout.strip()}")
    (data / "pg_hba.conf").write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n")


def ensure(lab: LabLayout, current: Proc | None) -> Proc:
    """A running server with the `novacron` database; the one already running is kept."""
    if current is not None and is_alive(current):
        return current
    if not (PG_BIN / "postgres").exists():
        raise RuntimeError("PostgreSQL 15 is missing: apt-get install postgresql-15")
    port = lab.postgres_port
    if port_open(port):
        raise RuntimeError(f"port {port} for the lab's PostgreSQL is taken by another process")
    top, data, sockets = lab.postgres_dir, lab.postgres_dir / "data", lab.postgres_dir / "sock"
    sockets.mkdir(parents=True, exist_ok=True)
    for path in (top, sockets):
        shutil.chown(path, USER, USER)
    if not (data / "PG_VERSION").exists():
        _initdb(data)
    log = top / "postgres.log"
    log.touch()
    shutil.chown(log, USER, USER)
    proc = spawn(_as_postgres(PG_BIN / "postgres", "-D", data, "-p", str(port), "-k", sockets,
                              "-c", "listen_addresses=127.0.0.1"), log)
    wait_port(port, proc, 60, "PostgreSQL", log)
    _ensure_database(lab, proc, log)
    return proc


def _ensure_database(lab: LabLayout, proc: Proc, log: Path) -> None:
    """CREATE DATABASE novacron once the server accepts connections (it listens a moment
    before it does, while it finishes starting up)."""
    admin = lab.postgres_url.rsplit("/", 1)[0] + "/postgres"
    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
                if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                (DATABASE,)).fetchone() is None:
                    conn.execute(f"CREATE DATABASE {DATABASE}")
                return
        except psycopg.OperationalError as exc:
            if not is_alive(proc) or time.monotonic() > deadline:
                raise RuntimeError(f"the lab's PostgreSQL does not accept connections; "
                                   f"see {log}") from exc
            time.sleep(0.2)
