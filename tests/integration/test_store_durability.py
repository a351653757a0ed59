"""The audit log keeps its promises across `kill -9` and between two writing consoles, on
both engines (a SQLite file; a PostgreSQL 15 server the tests start).

Real processes, real signals: a row whose id a writer printed (after its commit returned)
must be in the database, whatever moment the writer died. And a VM another console holds is
refused only while that console lives: a holder killed with SIGKILL leaves a row that is
closed as abandoned, not a VM locked forever (on SQLite its pid is gone; on PostgreSQL its
session ended, and the server released its advisory lock: no deadline is waited for).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backends.libvirt.backend import LibvirtBackend
from console.actions.dispatcher import Dispatcher, Request, Target
from console.errors import Code
from console.store import open_store, target_lock
from console.store.postgres.core import SESSION_GONE
from tests.integration.postgres_fixture import (
    ENGINES,
    query,
    shared_server,
    store_location,
    wait_session_gone,
)

pytestmark = pytest.mark.integration


@pytest.fixture(params=ENGINES)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store: a SQLite file not yet created, or a PostgreSQL schema with no tables."""
    return store_location(request.param, tmp_path)

WRITER = Path(__file__).with_name("audit_writer.py")
KILL_ROUNDS = 20


def spawn(db: str, label: str, count: int, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WRITER), str(db), label, str(count), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def acknowledged(output: str) -> tuple[set[int], set[int]]:
    """Ids from complete lines only: a line cut by the kill was never acknowledged."""
    begun: set[int] = set()
    finished: set[int] = set()
    for line in output.splitlines(keepends=True):
        if not line.endswith("\n"):
            continue
        word, _, value = line.partition(" ")
        if word == "begin":
            begun.add(int(value))
        elif word == "finish":
            finished.add(int(value))
    return begun, finished


def rows(db: str) -> dict[int, str]:
    """Every audit row's status."""
    return {int(str(i)): str(s) for i, s in query(db, "SELECT id, status FROM audit")}


def integrity(db: str) -> str:
    """SQLite's own check of the file; PostgreSQL checks its pages itself (and was not killed)."""
    if db.startswith("postgresql://"):
        return "ok"
    with sqlite3.connect(db) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def test_acknowledged_rows_survive_kill_9(location: str) -> None:
    db = location
    rng = random.Random(os.getpid() ^ int(time.time()))
    begun: set[int] = set()
    finished: set[int] = set()
    for round_no in range(KILL_ROUNDS):
        child = spawn(db, f"r{round_no}", 0)
        assert child.stdout is not None
        head = ""
        if round_no % 4 == 0:
            # Some kills land anywhere, including while the store opens or migrates.
            time.sleep(rng.uniform(0.0, 0.3))
        else:
            head = child.stdout.readline()
            assert head.startswith("begin "), head + (child.stderr.read() if child.stderr else "")
            time.sleep(rng.uniform(0.0, 0.15))
        os.kill(child.pid, signal.SIGKILL)
        out, err = child.communicate(timeout=10)
        assert child.returncode == -signal.SIGKILL, err
        got_begun, got_finished = acknowledged(head + out)
        begun |= got_begun
        finished |= got_finished

        stored = rows(db)
        assert begun <= stored.keys(), f"round {round_no}: lost {sorted(begun - stored.keys())}"
        assert all(stored[i] == "ok" for i in finished), f"round {round_no}: outcome lost"
    assert len(begun) >= KILL_ROUNDS, "the writers hardly wrote: the test proved nothing"
    assert integrity(db) == "ok"


async def test_store_reopens_cleanly_after_kills(location: str) -> None:
    db = location
    for round_no in range(2):
        child = spawn(db, f"k{round_no}", 0)
        assert child.stdout is not None
        child.stdout.readline()
        os.kill(child.pid, signal.SIGKILL)
        child.communicate(timeout=10)
    async with open_store(db) as store:
        assert await store.schema_version() == store.latest_schema_version
        interrupted = await store.unfinished_actions()
        assert all(e.status == "started" for e in interrupted)
        assert len(await store.audit(limit=10_000)) == len(rows(db))
    assert integrity(db) == "ok"


def test_two_writers_at_once_lose_nothing(location: str, tmp_path: Path) -> None:
    db = location  # fresh: both also race to create the schema
    per_writer = 500
    go = tmp_path / "go"
    writers = {label: spawn(db, label, per_writer, "--ready", str(tmp_path / f"ready-{label}"),
                            "--go", str(go)) for label in ("a", "b")}
    deadline = time.monotonic() + 30
    while not all((tmp_path / f"ready-{label}").exists() for label in writers):
        assert time.monotonic() < deadline, "writers never got ready"
        for label, w in writers.items():
            if w.poll() is not None:
                raise AssertionError(f"writer {label} died while opening: {w.communicate()[1]}")
        time.sleep(0.01)
    go.touch()

    acked: dict[str, set[int]] = {}
    for label, writer in writers.items():
        out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
        assert "locked" not in err
        begun, finished = acknowledged(out)
        assert len(begun) == len(finished) == per_writer
        acked[label] = begun

    stored = rows(db)
    assert len(stored) == 2 * per_writer
    assert acked["a"] | acked["b"] == stored.keys()
    assert set(stored.values()) == {"ok"}
    params = query(db, "SELECT params_json FROM audit ORDER BY id")
    writers = [json.loads(str(p))["writer"] for (p,) in params]
    switches = sum(1 for i in range(1, len(writers)) if writers[i] != writers[i - 1])
    assert switches > 1, "the writers did not overlap, so nothing concurrent was tested"
    assert integrity(db) == "ok"


async def test_a_killed_holder_does_not_lock_the_vm(location: str) -> None:
    """Another process takes the VM and is killed with SIGKILL mid-action."""
    db = location
    backend = LibvirtBackend("lvd", "test:///default")  # real libvirt: the test driver
    try:
        [guest] = [vm for vm in await backend.vms() if vm.name == "test"]
        target = Target("lvd", guest.id, guest.name)
        holder = spawn(db, "held", 0, "--hold", f"durability/{target.key}")
        assert holder.stdout is not None
        line = holder.stdout.readline()
        assert line.startswith("holding "), line + (holder.stderr.read() if holder.stderr else "")
        held_id, session = map(int, line.split()[1:3])

        async with open_store(db) as store:
            dispatcher = Dispatcher({"lvd": backend}, audit=store, context="durability",
                                    read_only=False)

            def reboot() -> Request:
                return Request("vm.reboot", target, confirmed=True, origin="test")

            busy = await dispatcher.run(reboot())  # the holder lives: refused
            assert busy.error is not None and busy.error.kind is Code.OPERATION_IN_PROGRESS
            assert f"from pid {holder.pid} " in str(busy.error)

            os.kill(holder.pid, signal.SIGKILL)
            # Dead but not yet reaped (a zombie): already gone as far as SQLite's lock goes.
            await asyncio.to_thread(os.waitid, os.P_PID, holder.pid, os.WEXITED | os.WNOWAIT)
            if session:  # PostgreSQL: once the server has seen the socket close (no deadline)
                await asyncio.to_thread(wait_session_gone, shared_server(), session)
            after = await dispatcher.run(reboot())
            assert after.ok, after.error
            holder.communicate(timeout=10)
            assert holder.returncode == -signal.SIGKILL

            abandoned = await store.audit_entry(held_id)
            assert abandoned is not None and abandoned.status == "failed"
            assert abandoned.error_message == (SESSION_GONE if session else target_lock.PROCESS_GONE)
            assert f"pid {holder.pid} " in abandoned.error_cause
            assert await store.unfinished_actions() == []
            outcomes = [(e.action, e.status.value) for e in await store.audit()]
            assert outcomes == [("vm.reboot", "ok"), ("vm.reboot", "refused"),
                                ("vm.shutdown", "failed")]
    finally:
        await backend.close()
    assert integrity(db) == "ok"
