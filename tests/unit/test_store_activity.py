"""The activity feed: what one console does reaches another as it happens, on both engines
(PostgreSQL: LISTEN/NOTIFY from a trigger; SQLite: polling the audit and migration tables)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from console.models import MigrationPhase
from console.store import Activity, Store, open_store
from console.store.identity import local_user
from tests.integration.postgres_fixture import ENGINES as ENGINE_NAMES
from tests.integration.postgres_fixture import shared_server, store_location

ENGINES = [pytest.param(e, marks=[pytest.mark.integration] if e == "postgresql" else [])
           for e in ENGINE_NAMES]
VM = dict(context="prod", target_kind="vm", target_id="kvm-1/uuid-3", target_name="pg-prod-03")
WAIT_S = 20.0
"""A bound for a loaded machine, not a latency check (that is `make bench ARGS=store`)."""


@pytest.fixture(params=ENGINES)
async def pair(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[Store, Store]]:
    where = store_location(request.param, tmp_path)
    async with open_store(where) as actor, open_store(where) as watcher:
        yield actor, watcher


async def test_another_consoles_actions_arrive_as_they_happen(pair: tuple[Store, Store]) -> None:
    actor, watcher = pair
    events = await watcher.activity(poll_s=0.05)
    try:
        migrating = await actor.begin_action(**VM, action="vm.migrate",
                                             params={"target": "kvm-fra-02", "live": True})
        record = await actor.record_migration_start(
            context="prod", vm_id="kvm-1/uuid-3", vm_name="pg-prod-03", source="kvm-1",
            target="kvm-fra-02", audit_id=migrating)
        await actor.record_migration_end(record, MigrationPhase.DONE)
        await actor.finish_action(migrating, "ok")
        refused = await actor.record_refusal(**{**VM, "target_name": "web-01"}, action="vm.force_off",
                                             error_code="NOVA-4001", error_message="read-only")
        got: list[Activity] = []
        async with asyncio.timeout(WAIT_S):
            async for event in events:
                got.append(event)
                if len(got) == 5:
                    break
    finally:
        await events.aclose()
    by_kind = {(e.kind, e.status): e for e in got}
    assert set(by_kind) == {("audit", "started"), ("migration", "running"),
                            ("migration", "done"), ("audit", "ok"), ("audit", "refused")}
    me = f"{local_user()}@{socket.gethostname()}"
    started = by_kind["audit", "started"]
    assert started.id == migrating and started.mine  # same process: this console's own
    assert started.describe() == f"{me} started migrate pg-prod-03 → kvm-fra-02"
    assert by_kind["migration", "running"].describe() == \
        f"{me} started migrate pg-prod-03 → kvm-fra-02"
    assert by_kind["migration", "done"].id == record
    assert by_kind["audit", "ok"].describe() == f"{me} finished migrate pg-prod-03 → kvm-fra-02"
    assert by_kind["audit", "refused"].id == refused
    assert by_kind["audit", "refused"].describe() == f"{me} was refused force off web-01 (NOVA-4001)"
    assert all(e.context == "prod" for e in got)
    # Per table, events come in the order their rows were committed.
    audit_ids = [e.id for e in got if e.kind == "audit"]
    assert audit_ids == [migrating, migrating, refused]


async def test_the_feed_starts_from_now(pair: tuple[Store, Store]) -> None:
    actor, watcher = pair
    old = await actor.begin_action(**VM, action="vm.reboot")
    await actor.finish_action(old, "ok")
    events = await watcher.activity(poll_s=0.05)
    try:
        new = await actor.record_refusal(**VM, action="vm.start", error_code="NOVA-4001",
                                         error_message="read-only")
        async with asyncio.timeout(WAIT_S):
            first = await anext(events)
    finally:
        await events.aclose()
    assert first.id == new


@pytest.mark.integration
async def test_postgres_feed_skips_another_stores_schema_and_rolled_back_writes() -> None:
    server = shared_server()
    url, other_url = server.fresh_url(), server.fresh_url()
    async with open_store(url) as actor, open_store(url) as watcher, \
            open_store(other_url) as stranger:
        events = await watcher.activity()
        try:
            await stranger.record_refusal(**VM, action="vm.start", error_code="NOVA-4001",
                                          error_message="another store")
            async with actor._write() as db:
                await db.execute("DELETE FROM saved_filter")  # a transaction with no audit row
            with pytest.raises(RuntimeError):
                async with actor._write() as db:
                    await db.execute(
                        "UPDATE audit SET status = 'ok' WHERE id = (SELECT max(id) FROM audit)")
                    await db.execute("INSERT INTO audit (idempotency_key, who, started_at,"
                                     " started_iso, context, target_kind, target_id,"
                                     " target_name, action, status) VALUES ('rolled-back', 'x',"
                                     " 0, 'x', 'prod', 'vm', 'x', 'ghost', 'vm.start', 'started')")
                    raise RuntimeError("rolled back")
            mine = await actor.record_refusal(**VM, action="vm.stop", error_code="NOVA-4001",
                                              error_message="this store")
            async with asyncio.timeout(WAIT_S):
                first = await anext(events)
        finally:
            await events.aclose()
        assert first.id == mine and first.target_name == "pg-prod-03"
        assert first.action == "vm.stop"
