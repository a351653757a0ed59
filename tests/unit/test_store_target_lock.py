"""The per-target lock across consoles, on both engines: real SQLite files, a real PostgreSQL.

Two `Store` connections on one store stand for two consoles. On SQLite the audit rows are the
lock, judged by pid and deadline: dead holders are real processes that ended (or were killed
and left as zombies), never a faked `os.kill`. On PostgreSQL the server's advisory locks are
the lock: a holder is gone when its database session is.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from console.models import AuditStatus
from console.store import SCHEMA_VERSION, Store, TargetBusy, open_store, schema, target_lock
from console.store.postgres.core import SESSION_GONE
from tests.integration.postgres_fixture import shared_server, store_location, wait_session_gone

VM = dict(context="demo", target_kind="vm", target_id="kvm-1/uuid-1", target_name="web-01")
ENGINES = [pytest.param("sqlite"), pytest.param("postgresql", marks=pytest.mark.integration)]


@pytest.fixture
async def two(tmp_path: Path) -> AsyncIterator[tuple[Store, Store]]:
    """Two consoles: two connections on the same database file."""
    async with open_store(tmp_path / "novacron.db") as a, open_store(tmp_path / "novacron.db") as b:
        yield a, b


@pytest.fixture(params=ENGINES)
async def both(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[Store, Store]]:
    """Two consoles on one store, on each engine in turn."""
    where = store_location(request.param, tmp_path)
    async with open_store(where) as a, open_store(where) as b:
        yield a, b


def column(path: Path | str, row_id: int, name: str) -> Any:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"SELECT {name} FROM audit WHERE id = ?", (row_id,)).fetchone()[0]


def set_columns(path: Path | str, row_id: int, **values: object) -> None:
    """Rewrite who holds a row, as another process or host would have written it."""
    with sqlite3.connect(path) as conn:
        for name, value in values.items():
            conn.execute(f"UPDATE audit SET {name} = ? WHERE id = ?", (value, row_id))


def ended_pid() -> int:
    """The pid of a process that has ended and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


async def test_a_started_row_holds_its_target_against_another_console(
        both: tuple[Store, Store]) -> None:
    a, b = both
    held = await a.begin_action(**VM, action="vm.shutdown", deadline_s=90)
    with pytest.raises(TargetBusy) as caught:
        await b.begin_action(**VM, action="vm.force_off")
    busy = caught.value
    assert busy.code == "NOVA-3003"
    assert busy.holder.audit_id == held and busy.holder.action == "vm.shutdown"
    assert busy.holder.pid == os.getpid() and busy.holder.hostname == socket.gethostname()
    text = str(busy)
    for part in ("vm.shutdown", busy.holder.who, busy.holder.started_iso, f"pid {os.getpid()}",
                 socket.gethostname()):
        assert part in text
    assert [e.id for e in await b.audit()] == [held]  # nothing written for the refused one

    # Other VMs, and the same VM id in another context, are free.
    other = await b.begin_action(**{**VM, "target_id": "kvm-1/uuid-2"}, action="vm.start")
    elsewhere = await b.begin_action(**{**VM, "context": "prod"}, action="vm.start")
    assert other and elsewhere

    await a.finish_action(held, "ok")
    freed = await b.begin_action(**VM, action="vm.force_off")
    entry = await b.audit_entry(freed)
    assert entry is not None and entry.status is AuditStatus.STARTED


async def test_the_row_records_process_and_deadline(two: tuple[Store, Store]) -> None:
    a, _ = two
    before = time.time()
    row = await a.begin_action(**VM, action="vm.shutdown", deadline_s=120)
    assert column(a.where, row, "pid") == os.getpid()
    assert column(a.where, row, "hostname") == socket.gethostname()
    assert column(a.where, row, "pid_start") == target_lock.process_start(os.getpid())
    assert before + 120 <= column(a.where, row, "deadline_at") <= time.time() + 120
    refused = await a.record_refusal(**VM, action="vm.start", error_code="NOVA-4001",
                                     error_message="read-only")
    assert column(a.where, refused, "pid") == os.getpid()
    assert column(a.where, refused, "deadline_at") is None


async def test_a_row_of_a_gone_process_is_abandoned_not_a_lock(two: tuple[Store, Store]) -> None:
    a, b = two
    stale = await a.begin_action(**VM, action="vm.delete", deadline_s=3600)
    set_columns(a.where, stale, pid=ended_pid(), pid_start=None)
    taken = await b.begin_action(**VM, action="vm.start")
    entry = await b.audit_entry(stale)
    assert entry is not None and entry.status is AuditStatus.FAILED
    assert entry.error_message == "abandoned (process gone)"
    assert "vm.delete" in entry.error_cause and entry.duration_s is None
    assert column(a.where, stale, "abandoned_at") is not None
    assert [e.id for e in await b.unfinished_actions()] == [taken]


async def test_a_reused_pid_does_not_keep_the_lock(two: tuple[Store, Store]) -> None:
    """Our own pid, but another start time: the writer is gone and the pid was reused."""
    if target_lock.process_start(os.getpid()) is None:
        pytest.skip("no /proc: a reused pid cannot be told apart")
    a, b = two
    stale = await a.begin_action(**VM, action="vm.reboot")
    set_columns(a.where, stale, pid_start=column(a.where, stale, "pid_start") - 1)
    await b.begin_action(**VM, action="vm.start")
    assert column(a.where, stale, "error_message") == "abandoned (process gone)"


async def test_another_hosts_row_holds_until_its_deadline(two: tuple[Store, Store]) -> None:
    """Nobody here can ask whether a process on another host lives: its deadline decides."""
    a, b = two
    remote = await a.begin_action(**VM, action="vm.migrate", deadline_s=600)
    set_columns(a.where, remote, hostname="bastion-elsewhere", pid=ended_pid())
    with pytest.raises(TargetBusy) as caught:
        await b.begin_action(**VM, action="vm.start")
    assert "on bastion-elsewhere" in str(caught.value)

    set_columns(a.where, remote, deadline_at=time.time() - 1)
    late = await b.begin_action(**VM, action="vm.start")
    entry = await b.audit_entry(remote)
    assert entry is not None and entry.status is AuditStatus.FAILED
    assert entry.error_message == "abandoned (no outcome by its deadline)"
    # Its own console, back late, still records the real outcome over the guess.
    closed = await a.finish_action(remote, "ok", duration_s=700.0)
    assert closed.status is AuditStatus.OK and closed.duration_s == 700.0
    with pytest.raises(KeyError):
        await a.finish_action(late + 1000, "ok")


def test_process_alive_semantics() -> None:
    assert target_lock.process_alive(os.getpid())
    assert target_lock.process_alive(1)  # init: alive even where kill(1, 0) is EPERM
    assert not target_lock.process_alive(ended_pid())
    assert not target_lock.process_alive(0) and not target_lock.process_alive(-5)

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert target_lock.process_alive(child.pid, target_lock.process_start(child.pid))
        os.kill(child.pid, signal.SIGKILL)
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # dead, not reaped: a zombie
        assert not target_lock.process_alive(child.pid)
    finally:
        child.kill()
        child.wait()


def v1_database(path: Path) -> None:
    """A database as a schema-1 console left it, with an action still running."""
    with sqlite3.connect(path) as conn:
        for statement in schema.MIGRATIONS[0]:
            conn.execute(statement)
        conn.execute(f"PRAGMA application_id = {schema.APPLICATION_ID}")
        conn.execute("PRAGMA user_version = 1")
        now = time.time()
        conn.executemany(
            "INSERT INTO audit (idempotency_key, who, started_at, started_iso, context,"
            " target_kind, target_id, target_name, action, status) VALUES (?, 'old', ?, 'x',"
            " 'demo', 'vm', ?, 'n', 'vm.reboot', ?)",
            [("k1", now - 5000, "kvm-1/old", "ok"), ("k2", now - 5000, "kvm-1/older", "started"),
             ("k3", now - 10, VM["target_id"], "started")])


async def test_schema_1_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "novacron.db"
    v1_database(path)
    async with open_store(path) as store:
        assert await store.schema_version() == SCHEMA_VERSION == 4
        assert [e.idempotency_key for e in await store.audit()] == ["k3", "k2", "k1"]
        # A row without a pid (an old console's) holds for the default deadline only.
        with pytest.raises(TargetBusy, match="host \\?"):
            await store.begin_action(**VM, action="vm.start")
        await store.begin_action(**{**VM, "target_id": "kvm-1/older"}, action="vm.start")
        older = (await store.audit(filter_text="target:kvm-1/older"))[-1]
        assert older.error_message == "abandoned (no outcome by its deadline)"
    with sqlite3.connect(path) as conn:
        columns = {r[1] for r in conn.execute("PRAGMA table_info(audit)")}
        assert {"pid", "pid_start", "hostname", "deadline_at", "abandoned_at", "resume_json"} <= columns
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


async def test_a_control_gets_through_while_the_migration_it_controls_holds_the_vm(
        both: tuple[Store, Store]) -> None:
    """Cancelling a migration from another console must not wait for that migration."""
    a, b = both
    migrating = await a.begin_action(**VM, action="vm.migrate", deadline_s=3600)
    cancel = await b.begin_action(**VM, action="vm.migrate_cancel", exclusive=False)
    assert cancel != migrating
    with pytest.raises(TargetBusy) as caught:  # anything else is still refused
        await b.begin_action(**VM, action="vm.shutdown")
    assert caught.value.holder.action in ("vm.migrate", "vm.migrate_cancel")
    await b.finish_action(cancel, "ok")
    await a.finish_action(migrating, "failed", error_message="cancelled by the operator")
    assert {e.action: e.status for e in await b.audit()} == {
        "vm.migrate": AuditStatus.FAILED, "vm.migrate_cancel": AuditStatus.OK}


async def test_a_front_end_peeks_at_the_holder_without_taking_the_vm(both: tuple[Store, Store]) -> None:
    a, b = both
    assert await b.holder(VM["context"], VM["target_id"]) is None
    held = await a.begin_action(**VM, action="vm.reboot")
    peeked = await b.holder(VM["context"], VM["target_id"])
    assert peeked is not None and peeked.audit_id == held and peeked.action == "vm.reboot"
    assert [e.id for e in await b.audit()] == [held]  # peeking wrote nothing
    await a.finish_action(held, "ok")
    assert await b.holder(VM["context"], VM["target_id"]) is None


async def test_one_console_cannot_take_a_vm_it_already_holds(both: tuple[Store, Store]) -> None:
    """PostgreSQL's advisory locks stack within a session; the store must refuse anyway."""
    a, _ = both
    held = await a.begin_action(**VM, action="vm.shutdown")
    with pytest.raises(TargetBusy) as caught:
        await a.begin_action(**VM, action="vm.force_off")
    assert caught.value.holder.audit_id == held
    await a.finish_action(held, "ok")
    await a.finish_action(await a.begin_action(**VM, action="vm.force_off"), "ok")


@pytest.mark.integration
async def test_postgres_holder_is_gone_with_its_session_not_its_deadline() -> None:
    """No pid, host or clock: a live session holds past its deadline, an ended one at once."""
    server = shared_server()
    url = server.fresh_url()
    async with open_store(url) as b:
        a = await Store.open(url)
        try:
            held = await a.begin_action(**VM, action="vm.delete", deadline_s=0.001)
            await asyncio.sleep(0.01)
            with pytest.raises(TargetBusy) as caught:  # past its deadline, still held
                await b.begin_action(**VM, action="vm.start")
            assert caught.value.holder.audit_id == held
            assert f"from pid {os.getpid()} on {socket.gethostname()}" in str(caught.value)
        finally:
            await a.close()  # the session ends: the server drops its locks
        await asyncio.to_thread(wait_session_gone, server, a.engine.backend_pid)  # type: ignore[attr-defined]
        taken = await b.begin_action(**VM, action="vm.start")
        entry = await b.audit_entry(held)
        assert entry is not None and entry.status is AuditStatus.FAILED
        assert entry.error_message == SESSION_GONE
        assert "vm.delete" in entry.error_cause and "database session" in entry.error_cause
        assert [e.id for e in await b.unfinished_actions()] == [taken]
