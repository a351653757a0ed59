"""A child process for the durability tests: writes audit rows until told to stop or killed.

It prints `begin <id>` only after `begin_action` returned (the commit is durable) and
`finish <id>` only after `finish_action` returned, so every line the parent read is a
promise the store must keep, whatever moment the parent picks for `kill -9`.

    python audit_writer.py STORE LABEL COUNT [--ready FILE --go FILE]   (COUNT 0: forever)
    python audit_writer.py STORE LABEL 0 --hold CONTEXT/TARGET_ID

STORE is a SQLite file or a `postgresql://` URL. With `--hold` it takes one VM the way a
dispatcher does (a `started` row with a deadline), prints `holding <id> <session>` once that
row is durable (`session`: its PostgreSQL backend pid, 0 on SQLite), and then never finishes
it: it waits to be killed, like a console killed in the middle of an action.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from console.store import open_store


def wait_for_go(ready: Path, go: Path) -> None:
    """Say the store is open, then wait for the parent to start every writer at once."""
    ready.touch()
    while not go.exists():
        time.sleep(0.005)


async def hold(db: str, label: str, what: str) -> None:
    context, _, target_id = what.partition("/")
    async with open_store(db) as store:
        action_id = await store.begin_action(
            context=context, target_kind="vm", target_id=target_id, target_name=f"vm-{label}",
            action="vm.shutdown", params={"writer": label, "timeout_s": 3600},
            deadline_s=3600 + 60)
        print(f"holding {action_id} {getattr(store.engine, 'backend_pid', 0)}", flush=True)
        await asyncio.Event().wait()


async def write(db: str, label: str, count: int, ready: Path | None, go: Path | None) -> None:
    async with open_store(db) as store:
        if ready is not None and go is not None:
            await asyncio.to_thread(wait_for_go, ready, go)
        n = 0
        while count == 0 or n < count:
            action_id = await store.begin_action(
                context="durability", target_kind="vm", target_id=f"{label}-{n}",
                target_name=f"vm-{label}-{n}", action="vm.reboot",
                params={"writer": label, "seq": n, "pid": os.getpid()})
            print(f"begin {action_id}", flush=True)
            await store.finish_action(action_id, "ok", duration_s=0.0)
            print(f"finish {action_id}", flush=True)
            n += 1
            # A console records one action at a time, not back to back. Without a pause,
            # SQLite's busy handler (sleeps growing to 100 ms) could miss every sub-millisecond
            # gap between one writer's transactions, so it did all 500 first (seen once in CI).
            await asyncio.sleep(0.001)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db", help="a SQLite file or a postgresql:// URL")
    parser.add_argument("label")
    parser.add_argument("count", type=int)
    parser.add_argument("--ready", type=Path)
    parser.add_argument("--go", type=Path)
    parser.add_argument("--hold", metavar="CONTEXT/TARGET_ID")
    args = parser.parse_args()
    if args.hold:
        asyncio.run(hold(args.db, args.label, args.hold))
        return
    started = time.monotonic()
    asyncio.run(write(args.db, args.label, args.count, args.ready, args.go))
    print(f"done {time.monotonic() - started:.2f}", flush=True)


if __name__ == "__main__":
    main()
