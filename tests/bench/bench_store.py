"""The store's two figures for team mode, on both engines (a PostgreSQL 15 server the bench
starts, as the tests do; a SQLite file in a temporary directory).

Rows (label, ours, baseline, verdict):
- activity latency between two store connections, p50/p95: from just before one console's
  write to the other console receiving its event. PostgreSQL: LISTEN/NOTIFY; baseline: the
  SQLite feed polling once a second (its default). Target: p95 under 100 ms on PostgreSQL.
- audit-write throughput: actions recorded per second (begin_action + finish_action, each a
  durable commit) by one console, PostgreSQL against SQLite (informational: both engines
  commit to disk before acknowledging, so this is mostly fsync).

`NOVACRON_BENCH_QUICK=1` measures fewer events and writes. The "screen" part of a toast
(Textual painting it) is not in these figures.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from console.store import Store, open_store
from tests.integration.postgres_fixture import shared_server

QUICK = os.environ.get("NOVACRON_BENCH_QUICK") == "1"
EVENTS = 50 if QUICK else 200
WRITES = 200 if QUICK else 1000
TARGET_P95_S = 0.100
VM = dict(context="bench", target_kind="vm", target_name="pg-prod-03")


async def latencies(where: str, poll_s: float, count: int) -> list[float]:
    """Seconds from each write's start to the other connection's event for it."""
    async with open_store(where) as actor, open_store(where) as watcher:
        events = await watcher.activity(poll_s=poll_s)
        sent: dict[int, float] = {}
        got: list[float] = []
        try:
            for n in range(count):
                started = time.perf_counter()
                row = await actor.record_refusal(**VM, target_id=f"kvm-1/{n}", action="vm.start",
                                                 error_code="NOVA-4001", error_message="bench")
                sent[row] = started
                async with asyncio.timeout(30):
                    while True:
                        event = await anext(events)
                        if event.id in sent:
                            got.append(time.perf_counter() - sent.pop(event.id))
                            break
                await asyncio.sleep(0.002 if poll_s < 0.5 else 0.0)
        finally:
            await events.aclose()
    return got


async def throughput(store: Store, count: int) -> float:
    started = time.perf_counter()
    for n in range(count):
        row = await store.begin_action(**VM, target_id=f"kvm-1/{n}", action="vm.reboot")
        await store.finish_action(row, "ok", duration_s=0.0)
    return count / (time.perf_counter() - started)


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


async def measure() -> list[tuple[str, str, str, str]]:
    server = shared_server()
    with tempfile.TemporaryDirectory(prefix="novacron-bench-store-") as tmp:
        sqlite_at = str(Path(tmp) / "bench.db")
        pg_lat = await latencies(server.fresh_url(), 0.0, EVENTS)
        sq_lat = await latencies(str(Path(tmp) / "feed.db"), 1.0, max(10, EVENTS // 10))
        async with open_store(server.fresh_url()) as pg:
            pg_rate = await throughput(pg, WRITES)
        async with open_store(sqlite_at) as sq:
            sq_rate = await throughput(sq, WRITES)
    p50, p95 = pct(pg_lat, 50), pct(pg_lat, 95)
    verdict = "ok" if p95 < TARGET_P95_S else "SLOW"
    return [
        (f"activity latency p50 ({len(pg_lat)} events)", f"{p50 * 1000:.1f} ms",
         f"{pct(sq_lat, 50) * 1000:.0f} ms (sqlite poll 1 s)", "NOTIFY"),
        ("activity latency p95", f"{p95 * 1000:.1f} ms", f"{pct(sq_lat, 95) * 1000:.0f} ms",
         f"< {TARGET_P95_S * 1000:.0f} ms: {verdict}"),
        (f"audit writes/s, begin+finish ({WRITES})", f"{pg_rate:.0f} (postgresql)",
         f"{sq_rate:.0f} (sqlite)", "informational"),
    ]


def run() -> list[tuple[str, str, str, str]]:
    return asyncio.run(measure())
