"""Everyone's actions as they happen: the activity feed of the store.

Each audit row written or closed, and each migration started or ended, by any console sharing
the store, becomes an `Activity`. PostgreSQL delivers them by LISTEN/NOTIFY (a trigger
notifies in the transaction that writes the row, so an event exists exactly when its row is
committed; `console.store.postgres.feed`); SQLite has no such channel, so this module polls
the two tables instead (once a second by default): the same iterator and the same events,
up to a poll later (a row that began and ended between two polls yields both events).

    events = await store.activity()      # subscribed on return: nothing after this is missed
    async for event in events:           # until cancelled, or `await events.aclose()`
        app.notify(event.describe())     # "ana@bastion-2 started migrate pg-prod-03 → kvm-fra-02"
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import Any

from console.store.core import StoreCore
from console.store.holder import hostname

POLL_S = 1.0
"""How often the SQLite feed looks for new rows."""

_VERBS = {"started": "started", "ok": "finished", "failed": "failed", "refused": "was refused",
          "running": "started", "done": "finished", "cancelled": "cancelled"}


@dataclass(frozen=True, slots=True)
class Activity:
    """One thing a console did, as another console shows it."""

    kind: str
    """'audit' (an action's row) or 'migration' (a migration-history row)."""
    id: int
    status: str
    """The audit status (started, ok, failed, refused) or migration phase (running, done...)."""
    who: str
    hostname: str
    context: str
    action: str
    target_id: str
    target_name: str
    destination: str = ""
    """Where a migration goes (its target host), '' for other actions."""
    error_code: str = ""
    mine: bool = False
    """Written by this console's process (same pid and host): a console may leave its own
    actions out of its toasts."""

    def describe(self) -> str:
        """'ana@bastion-2 started migrate pg-prod-03 → kvm-fra-02' (plain text, no markup)."""
        verb = _VERBS.get(self.status, self.status)
        what = self.action.rpartition(".")[2].replace("_", " ")
        where = f" → {self.destination}" if self.destination else ""
        failed = f" ({self.error_code})" if self.error_code else ""
        by = f"{self.who}@{self.hostname}" if self.hostname else self.who
        return f"{by} {verb} {what} {self.target_name}{where}{failed}"


def destination_of(params_json: str) -> str:
    """A migration's target host from an audit row's parameters ('' when there is none)."""
    try:
        params = json.loads(params_json or "{}")
    except ValueError:
        return ""
    target = params.get("target") if isinstance(params, dict) else None
    return target if isinstance(target, str) else ""


def written_here(row: Mapping[str, Any]) -> bool:
    """Whether this console's process wrote the row."""
    return row["pid"] == os.getpid() and row["hostname"] == hostname()


def from_audit(row: Mapping[str, Any], mine: bool) -> Activity:
    return Activity("audit", int(row["id"]), str(row["status"]), str(row["who"]),
                    str(row["hostname"] or ""), str(row["context"]), str(row["action"]),
                    str(row["target_id"]), str(row["target_name"]),
                    destination_of(str(row["params_json"])) if row["action"] == "vm.migrate"
                    else "", str(row["error_code"] or ""), mine)


def from_migration(row: Mapping[str, Any], mine: bool) -> Activity:
    return Activity("migration", int(row["id"]), str(row["phase"]), str(row["who"]),
                    str(row["hostname"] or ""), str(row["context"]), "vm.migrate",
                    str(row["vm_id"]), str(row["vm_name"]), str(row["target"]), "", mine)


AUDIT_FIELDS = ("id", "status", "who", "hostname", "pid", "context", "action", "target_id",
                "target_name", "params_json", "error_code")
MIGRATION_FIELDS = ("id", "phase", "who", "hostname", "pid", "context", "vm_id", "vm_name",
                    "source", "target")


_OPEN = {"audit": "started", "migration": "running"}
"""The state a row is written in (a refusal is written finished)."""


class ActivityFeed(StoreCore):
    """The feed's methods of the store (polling: the SQLite way; PostgreSQL overrides)."""

    async def activity(self, poll_s: float = POLL_S) -> AsyncGenerator[Activity, None]:
        """Every activity committed after this returns, in commit order per table, until
        the iterator is closed (`aclose`) or its task cancelled."""
        own = await self.engine.subscribe()
        if own is not None:
            return own
        last = {"audit": await self._max_id("audit"), "migration": await self._max_id("migration")}
        return self._poll(poll_s, last)

    async def _poll(self, poll_s: float, last: dict[str, int]) -> AsyncGenerator[Activity, None]:
        seen: dict[str, dict[int, str]] = {"audit": {}, "migration": {}}
        while True:
            for table, fields, state, make in (
                    ("audit", AUDIT_FIELDS, "status", from_audit),
                    ("migration", MIGRATION_FIELDS, "phase", from_migration)):
                open_ids = list(seen[table])
                marks = ", ".join("?" * len(open_ids)) or "NULL"
                async with self._read() as db:
                    rows = await db.execute_fetchall(
                        f"SELECT {', '.join(fields)} FROM {table}"
                        f" WHERE id > ? OR id IN ({marks}) ORDER BY id", (last[table], *open_ids))
                for values in rows:
                    row = dict(zip(fields, values, strict=True))
                    row_id, now = int(row["id"]), str(row[state])
                    first, new = _OPEN[table], row_id > last[table]
                    last[table] = max(last[table], row_id)
                    if seen[table].get(row_id) == now:
                        continue
                    if now == first:
                        seen[table][row_id] = now
                    else:
                        seen[table].pop(row_id, None)
                        if new and now != "refused":  # began and ended between two polls
                            yield make({**row, state: first}, written_here(row))
                    yield make(row, written_here(row))
            await asyncio.sleep(poll_s)

    async def _max_id(self, table: str) -> int:
        async with self._read() as db:
            rows = list(await db.execute_fetchall(f"SELECT coalesce(max(id), 0) FROM {table}"))
        return int(rows[0][0])
