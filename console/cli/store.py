"""`novacron store check` and `novacron store migrate`: the context's store, as the console
would open it (a SQLite file, or the team's PostgreSQL).

`check` connects without changing anything: where the store is, its engine, its schema
against this console's, what an acknowledged write relies on, and the actions still marked
started. `migrate` applies the missing schema steps (the console does that on its own when it
opens the store; this lets an operator do it ahead of a rollout, or with a role that may).
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from console.cli.common import ascii_safe, open_context
from console.cli.exit import ExitStatus
from console.store import Store


def add_parsers(sub: Any) -> None:
    store = sub.add_parser("store", help="the audit/lock store of the context (SQLite or PostgreSQL)")
    store_sub = store.add_subparsers(dest="store_command", metavar="ACTION", required=True)
    check = store_sub.add_parser("check", help="connect and report, changing nothing")
    check.set_defaults(func=cmd_check)
    migrate = store_sub.add_parser("migrate", help="bring the store's schema up to date")
    migrate.set_defaults(func=cmd_migrate)


def cmd_check(args: argparse.Namespace) -> ExitStatus:
    return asyncio.run(_check(open_context(args)[1].store))


def cmd_migrate(args: argparse.Namespace) -> ExitStatus:
    return asyncio.run(_migrate(open_context(args)[1].store))


async def _check(location: str | None) -> ExitStatus:
    store = await Store.open(location, migrate=False)
    try:
        version, latest = await store.schema_version(), store.latest_schema_version
        print(f"store: {ascii_safe(store.where)} ({store.engine.name})")
        print(f"schema: {version} of {latest}"
              + ("" if version == latest else ": run `novacron store migrate`"))
        print(f"durability: {await store.engine.durability()}")
        if version == latest:
            unfinished = await store.unfinished_actions()
            print(f"actions marked started: {len(unfinished)}")
            for entry in unfinished[:10]:
                print(f"  #{entry.id} {ascii_safe(entry.action)} {ascii_safe(entry.target_name)}"
                      f" by {ascii_safe(entry.who)} since {entry.started_iso}")
    finally:
        await store.close()
    return ExitStatus.OK if version == latest else ExitStatus.FAILED


async def _migrate(location: str | None) -> ExitStatus:
    before = await Store.open(location, migrate=False)
    try:
        was = await before.schema_version()
    finally:
        await before.close()
    store = await Store.open(location)
    try:
        now = await store.schema_version()
        print(f"store: {ascii_safe(store.where)} ({store.engine.name})")
        print(f"schema: {was} -> {now}" if was != now else f"schema: {now}, already up to date")
    finally:
        await store.close()
    return ExitStatus.OK
