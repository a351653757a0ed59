"""The store on both engines, a real SQLite file and a real PostgreSQL 15 server: schema,
audit, migrations, filters, snapshots. Tests of one engine's own machinery say so by name."""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest

from console.models import (
    VM,
    AuditStatus,
    Disk,
    FleetSnapshot,
    Host,
    HostState,
    Migration,
    MigrationPhase,
    SourceHealth,
    VMState,
)
from console.store import SCHEMA_VERSION, DuplicateAction, Store, StoreError, open_store, snapshot_codec
from console.store.postgres import SCHEMA_VERSION as PG_SCHEMA_VERSION
from tests.integration.postgres_fixture import shared_server, store_location

ENGINES = [pytest.param("sqlite"), pytest.param("postgresql", marks=pytest.mark.integration)]


@pytest.fixture(params=ENGINES)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store's location: a SQLite file, or a PostgreSQL URL on a schema of its own."""
    return store_location(request.param, tmp_path)


@pytest.fixture
async def store(location: str) -> AsyncIterator[Store]:
    async with open_store(location) as opened:
        yield opened


def pg(url: str) -> psycopg.Connection:
    """A connection of our own to a test's PostgreSQL store (its schema on the search path)."""
    return psycopg.connect(url, autocommit=True)


def pragma(path: Path | str, name: str) -> object:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]


async def test_fresh_sqlite_store_has_schema_version_wal_and_tables(tmp_path: Path) -> None:
    async with open_store(tmp_path / "novacron.db") as store:
        assert await store.schema_version() == SCHEMA_VERSION
    assert pragma(store.where, "user_version") == SCHEMA_VERSION
    assert pragma(store.where, "journal_mode") == "wal"
    with sqlite3.connect(store.where) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type='table'")}
    assert {"audit", "migration", "fleet_snapshot", "saved_filter"} <= tables


@pytest.mark.integration
async def test_fresh_postgres_store_has_schema_version_tables_and_sync_commit() -> None:
    url = shared_server().fresh_url()
    async with open_store(url) as store:
        assert store.engine.name == "postgresql"
        assert await store.schema_version() == PG_SCHEMA_VERSION
        async with store._read() as db:
            [(sync,)] = await db.execute_fetchall("SHOW synchronous_commit")
            [(idle,)] = await db.execute_fetchall("SHOW tcp_keepalives_idle")
    assert sync == "on" and idle == "10"
    with pg(url) as conn:
        tables = {r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")}
        [(version,)] = conn.execute("SELECT version FROM novacron_schema").fetchall()
    assert {"audit", "migration", "fleet_snapshot", "saved_filter", "novacron_schema"} <= tables
    assert version == PG_SCHEMA_VERSION


async def test_sqlite_connection_is_full_sync_with_busy_timeout(tmp_path: Path) -> None:
    async with open_store(tmp_path / "novacron.db") as store, store._read() as db:
        [(sync,)] = await db.execute_fetchall("PRAGMA synchronous")
        [(busy,)] = await db.execute_fetchall("PRAGMA busy_timeout")
    assert sync == 2  # FULL
    assert busy >= 1000


async def test_reopening_keeps_data_and_version(location: str) -> None:
    async with open_store(location) as first:
        await first.save_filter("prod", "tag:env:prod")
        version = first.latest_schema_version
    async with open_store(location) as second:
        assert await second.schema_version() == version
        assert await second.saved_filters() == {"prod": "tag:env:prod"}


@pytest.mark.integration
async def test_newer_postgres_store_is_refused_untouched() -> None:
    url = shared_server().fresh_url()
    async with open_store(url):
        pass
    with pg(url) as conn:
        conn.execute("UPDATE novacron_schema SET version = version + 1")
    with pytest.raises(StoreError) as caught:
        await Store.open(url)
    assert caught.value.code.startswith("NOVA-") and "newer" in str(caught.value)
    assert "PostgreSQL novacron on 127.0.0.1" in str(caught.value)
    with pg(url) as conn:
        assert conn.execute("SELECT version FROM novacron_schema").fetchone() == (PG_SCHEMA_VERSION + 1,)


@pytest.mark.integration
async def test_foreign_postgres_schema_is_refused() -> None:
    url = shared_server().fresh_url()
    with pg(url) as conn:
        conn.execute("CREATE TABLE audit (x int)")
    with pytest.raises(StoreError, match="not a NovaCron store"):
        await Store.open(url)
    with pg(url) as conn:
        assert conn.execute("SELECT to_regclass('novacron_schema')").fetchone() == (None,)


async def test_newer_sqlite_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    async with open_store(path):
        pass
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError) as caught:
        await Store.open(path)
    message = str(caught.value)
    assert caught.value.code.startswith("NOVA-")
    assert "newer" in message and str(path) in message
    assert pragma(path, "user_version") == SCHEMA_VERSION + 1


async def test_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE something (x)")
    with pytest.raises(StoreError, match="not a NovaCron store"):
        await Store.open(path)
    not_sqlite = tmp_path / "text.db"
    not_sqlite.write_text("hello, this is not a database at all" * 100)
    with pytest.raises(StoreError):
        await Store.open(not_sqlite)


async def test_audit_round_trip(store: Store) -> None:
    action_id = await store.begin_action(
        context="demo", target_kind="vm", target_id="uuid-1", target_name="web-01",
        action="vm.shutdown", params={"timeout_s": 30, "force": False})
    started = await store.audit_entry(action_id)
    assert started is not None
    assert started.status is AuditStatus.STARTED and not started.finished
    assert started.who and started.started_iso.endswith("Z")
    assert len(started.idempotency_key) == 36
    assert [e.id for e in await store.unfinished_actions()] == [action_id]

    done = await store.finish_action(action_id, "failed", 1.5, "NOVA-2002", "The call timed out",
                                     "virDomainShutdown: timeout")
    assert done.status is AuditStatus.FAILED
    assert (done.duration_s, done.error_code, done.error_cause) == (
        1.5, "NOVA-2002", "virDomainShutdown: timeout")
    assert done.params == {"timeout_s": 30, "force": False}
    assert done.finished_at is not None and done.finished_at >= done.started_at
    assert await store.unfinished_actions() == []
    assert await store.audit() == [done]
    with pytest.raises(KeyError):
        await store.finish_action(action_id, "ok")


async def test_refusal_is_one_finished_row(store: Store) -> None:
    refused_id = await store.record_refusal(
        context="prod", target_kind="vm", target_id="u2", target_name="db-01",
        action="vm.force_off", error_code="NOVA-4001",
        error_message="Refused: the console is read-only")
    [entry] = await store.audit()
    assert entry.id == refused_id
    assert entry.status is AuditStatus.REFUSED and entry.duration_s == 0.0
    assert entry.error_code == "NOVA-4001"


async def test_audit_filter_paging_and_since(store: Store) -> None:
    ids = []
    for n, (action, name) in enumerate([("vm.start", "web-01"), ("vm.stop", "web-02"),
                                        ("vm.reboot", "db-50%_x"), ("vm.start", "db-02")]):
        ids.append(await store.begin_action(context="demo", target_kind="vm",
                                            target_id=f"u{n}", target_name=name, action=action))
    await store.finish_action(ids[1], AuditStatus.OK)
    assert [e.id for e in await store.audit()] == ids[::-1]
    assert [e.target_name for e in await store.audit(filter_text="WEB")] == ["web-02", "web-01"]
    assert [e.id for e in await store.audit(filter_text="action:start db")] == [ids[3]]
    assert [e.id for e in await store.audit(filter_text="status:ok")] == [ids[1]]
    assert [e.id for e in await store.audit(filter_text="50%_")] == [ids[2]]
    assert [e.id for e in await store.audit(filter_text="%")] == [ids[2]]
    assert [e.id for e in await store.audit(limit=2, offset=1)] == [ids[2], ids[1]]
    third = await store.audit_entry(ids[2])
    assert third is not None
    assert {e.id for e in await store.audit(since=third.started_at)} == {ids[2], ids[3]}


async def test_audit_stores_plain_text_and_no_secret(store: Store) -> None:
    action_id = await store.begin_action(
        context="demo", target_kind="vm", target_id="u", target_name="evil\x1b]52;c;aGk=\x07\u202e",
        action="vm.start", params={"password": "hunter2", "nested": {"api_key": "k"}, "n": 1})
    entry = await store.finish_action(action_id, "failed", error_cause="boom\x1b[2J")
    assert "\x1b" not in entry.target_name and "\u202e" not in entry.target_name
    assert "\x1b" not in entry.error_cause
    assert "hunter2" not in entry.params_json and '"k"' not in entry.params_json
    assert entry.params["n"] == 1


async def test_caller_supplied_idempotency_key_is_unique(store: Store) -> None:
    kwargs: dict[str, Any] = dict(context="c", target_kind="vm", target_id="u", target_name="n", action="a",
                  idempotency_key="key-1")
    first = await store.begin_action(**kwargs)
    await store.finish_action(first, "ok")  # else the target is still held (target_lock)
    with pytest.raises(DuplicateAction):
        await store.begin_action(**kwargs)
    assert len(await store.audit()) == 1


async def test_migration_history(store: Store) -> None:
    first = await store.record_migration_start(context="lab", vm_id="u1", vm_name="web-01",
                                               source="kvm-1", target="kvm-2", job_id="j1")
    second = await store.record_migration_start(context="lab", vm_id="u2", vm_name="web-02",
                                                source="kvm-1", target="kvm-3")
    other = await store.record_migration_start(context="prod", vm_id="u3", vm_name="x",
                                               source="a", target="b")
    assert [r.id for r in await store.unfinished_migrations("lab")] == [first, second]
    progress = Migration(id="j1", vm_id="u1", vm_name="web-01", source="kvm-1", target="kvm-2",
                         phase=MigrationPhase.DONE, data_total=1000, data_processed=1000,
                         iteration=3, elapsed_s=4.5)
    ended = await store.record_migration_end(first, MigrationPhase.DONE, progress)
    assert ended.phase is MigrationPhase.DONE and ended.finished_at is not None
    assert ended.stats["data_total"] == 1000 and ended.stats["iteration"] == 3
    await store.record_migration_end(second, "failed", {"iteration": 1}, error="NOVA-2001 lost")
    assert [r.id for r in await store.unfinished_migrations()] == [other]
    history = await store.migrations(limit=2)
    assert [r.id for r in history] == [other, second]
    assert history[1].error == "NOVA-2001 lost" and history[1].phase is MigrationPhase.FAILED
    with pytest.raises(ValueError):
        await store.record_migration_end(other, MigrationPhase.RUNNING)
    with pytest.raises(KeyError):
        await store.record_migration_end(first, MigrationPhase.DONE)


async def test_saved_filters(store: Store) -> None:
    assert await store.saved_filters() == {}
    await store.save_filter("sick", "state:crashed")
    await store.save_filter("prod", "tag:env:prod")
    await store.save_filter("sick", "state:crashed host:kvm-1")
    assert await store.saved_filters() == {"prod": "tag:env:prod",
                                           "sick": "state:crashed host:kvm-1"}
    assert await store.delete_filter("prod") is True
    assert await store.delete_filter("prod") is False
    assert list(await store.saved_filters()) == ["sick"]
    with pytest.raises(ValueError):
        await store.save_filter("  ", "x")


def big_fleet(vm_count: int) -> FleetSnapshot:
    states = list(VMState)
    hosts = tuple(
        Host(id=f"host-{h}", name=f"kvm-{h:04d}", backend="prom", state=list(HostState)[h % 3],
             cpus=64, memory_bytes=512 << 30, free_memory_bytes=None if h % 2 else 1 << 30,
             uri=f"qemu+tls://kvm-{h}/system", stale=h % 7 == 0, age_s=h / 10, error="")
        for h in range(max(1, vm_count // 50)))
    vms = tuple(
        VM(id=f"{n:08x}-0000-4000-8000-{n:012x}", name=f"vm-{n} ünïcode [b]", state=states[n % 8],
           host=hosts[n % len(hosts)].name, backend="prom", vcpus=1 + n % 16,
           memory_bytes=(1 + n % 64) << 30,
           disks=tuple(Disk(f"vd{chr(97 + d)}", f"/pool/vm-{n}-{d}.qcow2", (d + 1) << 34)
                       for d in range(n % 3)),
           addresses=(f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}",) if n % 5 else (),
           tags=("env:prod", f"team:{n % 13}"), cpu_time_ns=n * 1_000_003,
           created_at=None if n % 4 == 0 else 1.7e9 + n, stale=n % 9 == 0, age_s=n % 60 / 3)
        for n in range(vm_count))
    health = (SourceHealth("prom", True, 1.7e9, 1.7e9 + 1),
              SourceHealth("kvm-9", False, None, 1.7e9, "NOVA-2001 refused", 4))
    return FleetSnapshot(context="prod", taken_at=1.7e9 + 5, hosts=hosts, vms=vms, health=health,
                         generation=42)


async def test_snapshot_round_trip_100k_vms(store: Store) -> None:
    snap = big_fleet(100_000)
    size = await store.save_snapshot("prod", snap)
    assert 0 < size < 20_000_000
    loaded = await store.load_snapshot("prod")
    assert loaded == replace(snap, restored=True)
    assert loaded is not None and loaded.restored
    assert isinstance(loaded.vms[1].state, VMState) and isinstance(loaded.vms[5].disks, tuple)
    assert await store.load_snapshot("other") is None


async def test_snapshot_is_replaced_per_context(store: Store) -> None:
    await store.save_snapshot("prod", big_fleet(10))
    await store.save_snapshot("lab", big_fleet(3))
    await store.save_snapshot("prod", big_fleet(20))
    prod, lab = await store.load_snapshot("prod"), await store.load_snapshot("lab")
    assert prod is not None and len(prod.vms) == 20
    assert lab is not None and len(lab.vms) == 3


async def test_unreadable_snapshot_loads_as_none(store: Store) -> None:
    await store.save_snapshot("prod", big_fleet(10))
    async with store._write() as db:
        await db.execute("UPDATE fleet_snapshot SET blob = ?", (b"garbage",))
    assert await store.load_snapshot("prod") is None


def test_snapshot_survives_model_field_changes() -> None:
    """A header from an older model (a field gone, an unknown one added) still decodes."""
    snap = big_fleet(60)
    blob = snapshot_codec.encode(snap)
    lines = zlib.decompress(blob).decode().splitlines()
    header = json.loads(lines[0])
    body = [json.loads(line) for line in lines[1:]]
    vm_fields = header["fields"]["VM"]
    drop, add = vm_fields.index("age_s"), "future_field"
    header["fields"]["VM"] = [*vm_fields[:drop], *vm_fields[drop + 1:], add]
    for section, columns in body:
        if section == "vms":
            count = len(columns[0])
            del columns[drop]
            columns.append(["x"] * count)
    text = "\n".join([json.dumps(header), *(json.dumps(b) for b in body)])
    back = snapshot_codec.decode(zlib.compress(text.encode()))
    assert back.vms == tuple(replace(v, age_s=0.0) for v in snap.vms)
    assert back.hosts == snap.hosts


def test_unknown_vm_state_decodes_as_unknown() -> None:
    snap = FleetSnapshot(context="c", taken_at=1.0, vms=(
        VM(id="1", name="a", state=VMState.RUNNING, host="h", backend="b"),))
    blob = snapshot_codec.encode(snap)
    text = zlib.decompress(blob).decode().replace('"running"', '"hibernating"')
    back = snapshot_codec.decode(zlib.compress(text.encode()))
    assert back.vms[0].state is VMState.UNKNOWN


def test_nested_disks_in_another_field_order_still_decode() -> None:
    snap = big_fleet(300)
    lines = zlib.decompress(snapshot_codec.encode(snap)).decode().splitlines()
    header = json.loads(lines[0])
    header["fields"]["Disk"] = header["fields"]["Disk"][::-1]
    body = [json.loads(line) for line in lines[1:]]
    disks_at = header["fields"]["VM"].index("disks")
    for section, columns in body:
        if section == "vms":
            columns[disks_at] = [[row[::-1] for row in rows] for rows in columns[disks_at]]
    text = "\n".join([json.dumps(header), *(json.dumps(b) for b in body)])
    back = snapshot_codec.decode(zlib.compress(text.encode()))
    assert back.vms == snap.vms
