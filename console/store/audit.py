"""The audit log: a row before every backend call, updated with the outcome after it.

Writing first means a console killed mid-action still leaves a `started` row: the operator
sees "outcome unknown" instead of nothing. The idempotency key travels with the action so a
retry can be recognised. `begin_action` takes the target in the transaction that writes the
row, through the engine: on SQLite the `started` row itself is the lock (`target_lock`), on
PostgreSQL a session-level advisory lock the server holds for this console's connection
(`console.store.postgres.core`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from console.models import AuditEntry, AuditStatus
from console.store import identity, plaintext, target_lock
from console.store.core import STORE_UNAVAILABLE, ClaimRace, DuplicateAction, StoreCore
from console.store.holder import Holder, TargetBusy

_COLUMNS = (
    "id, idempotency_key, who, started_at, started_iso, context, target_kind, target_id, "
    "target_name, action, params_json, status, finished_at, duration_s, error_code, "
    "error_message, error_cause"
)

CLAIM_PATIENCE_S = 5.0
"""How long a claim keeps looking for the holder's row when the target is locked but no row
names its holder yet (PostgreSQL: the holder takes its lock a moment before its row commits,
or has just finished); past it the refusal names 'another console'."""

FILTER_FIELDS = {
    "who": "who",
    "context": "context",
    "target": "target_name || ' ' || target_id",
    "kind": "target_kind",
    "action": "action",
    "status": "status",
    "code": "error_code",
}
"""`field:value` words the audit filter understands; other words search every column."""

_EVERYTHING = (
    "who || ' ' || context || ' ' || target_kind || ' ' || target_id || ' ' || target_name"
    " || ' ' || action || ' ' || status || ' ' || error_code || ' ' || error_message"
    " || ' ' || params_json"
)


def _entry(row: Sequence[Any]) -> AuditEntry:
    values = list(row)
    values[11] = AuditStatus(values[11])
    return AuditEntry(*values)


def _like(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def filter_clause(filter_text: str) -> tuple[str, list[Any]]:
    """SQL for a filter: every word must match (case-insensitive substring)."""
    clauses: list[str] = []
    args: list[Any] = []
    for word in filter_text.split():
        field, sep, value = word.partition(":")
        column = FILTER_FIELDS.get(field.lower()) if sep and value else None
        clauses.append(f"lower({column or _EVERYTHING}) LIKE lower(?) ESCAPE '\\'")
        args.append(_like(value if column else word))
    return " AND ".join(clauses), args


class AuditLog(StoreCore):
    """Audit methods of the store."""

    async def begin_action(
        self,
        *,
        context: str,
        target_kind: str,
        target_id: str,
        target_name: str,
        action: str,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        deadline_s: float | None = None,
        exclusive: bool = True,
    ) -> int:
        """Record an action about to be sent to a backend; returns the row id once durable.

        The row takes the target: if another unfinished action holds the same (context,
        target), nothing is written and `TargetBusy` names it. `deadline_s` is how
        long the action may take at most (its timeout plus a margin); past it the row stops
        holding the target even if nobody can tell whether its process is alive.
        `exclusive=False` (cancelling a running migration) skips that check: such a control
        must get through while the action it controls holds the target.
        """
        return await self._insert(context, target_kind, target_id, target_name, action,
                                  params, idempotency_key, AuditStatus.STARTED,
                                  deadline_s=deadline_s, exclusive=exclusive)

    async def holder(self, context: str, target_id: str) -> Holder | None:
        """Who holds the target now (another console's unfinished action), without taking it."""
        async with self._read() as db:
            return await self.engine.peek_holder(db, context, target_id, identity.now()[0])

    async def finish_action(
        self,
        action_id: int,
        outcome: AuditStatus | str,
        duration_s: float | None = None,
        error_code: str = "",
        error_message: str = "",
        error_cause: str = "",
    ) -> AuditEntry:
        """Close a `started` row with its outcome (ok / failed / refused).

        A row another console closed as abandoned (its deadline passed) can still be closed
        by its own console, late: the real outcome replaces the guess.
        """
        status = AuditStatus(outcome)
        if status is AuditStatus.STARTED:
            raise ValueError("an action cannot finish as 'started'")
        finished_at, _ = identity.now()
        async with self._write() as db:
            rows = list(await db.execute_fetchall(
                "UPDATE audit SET status = ?, finished_at = ?,"
                " duration_s = coalesce(?, CASE WHEN ? > started_at THEN ? - started_at ELSE 0.0 END),"
                " error_code = ?, error_message = ?, error_cause = ?"
                " WHERE id = ? AND (status = 'started' OR abandoned_at IS NOT NULL)"
                f" RETURNING {_COLUMNS}",
                (status.value, finished_at, duration_s, finished_at, finished_at,
                 plaintext.text(error_code, 64), plaintext.text(error_message),
                 plaintext.text(error_cause), action_id),
            ))
            if rows:  # last in the transaction: the target is free as the outcome commits
                await self.engine.release(db, action_id)
        if not rows:
            raise KeyError(f"no started audit row with id {action_id}")
        return _entry(rows[0])

    async def record_refusal(
        self,
        *,
        context: str,
        target_kind: str,
        target_id: str,
        target_name: str,
        action: str,
        error_code: str,
        error_message: str,
        error_cause: str = "",
        params: Mapping[str, Any] | None = None,
    ) -> int:
        """Record, in one step, an action refused before any backend call (read-only...)."""
        return await self._insert(context, target_kind, target_id, target_name, action,
                                  params, None, AuditStatus.REFUSED,
                                  (error_code, error_message, error_cause))

    async def _insert(
        self,
        context: str,
        target_kind: str,
        target_id: str,
        target_name: str,
        action: str,
        params: Mapping[str, Any] | None,
        idempotency_key: str | None,
        status: AuditStatus,
        error: tuple[str, str, str] = ("", "", ""),
        deadline_s: float | None = None,
        exclusive: bool = True,
    ) -> int:
        finished = status is not AuditStatus.STARTED
        claim = not finished and exclusive
        row = {
            "idempotency_key": idempotency_key or str(uuid.uuid4()),
            "who": plaintext.text(identity.local_user()), "context": plaintext.text(context),
            "target_kind": plaintext.text(target_kind), "target_id": plaintext.text(target_id),
            "target_name": plaintext.text(target_name), "action": plaintext.text(action),
            "params_json": plaintext.params_json(params), "status": status.value,
            "error_code": plaintext.text(error[0], 64), "error_message": plaintext.text(error[1]),
            "error_cause": plaintext.text(error[2]),
        }
        patience = time.monotonic() + CLAIM_PATIENCE_S
        while True:
            try:
                row_id, holder = await self._write_row(
                    row, finished=finished, claim=claim, deadline_s=deadline_s,
                    patient=time.monotonic() < patience)
                break
            except ClaimRace:  # the holder is between its lock and its row: look again
                await asyncio.sleep(0.01)
        if holder is not None:  # raised after the commit: the abandoned rows stay closed
            raise TargetBusy(row["target_name"], holder)
        assert row_id is not None
        if claim:
            await self.engine.claimed(row_id, row["context"], row["target_id"])
        return row_id

    async def _write_row(self, row: dict[str, Any], *, finished: bool, claim: bool,
                         deadline_s: float | None,
                         patient: bool) -> tuple[int | None, Holder | None]:
        """One transaction: take the target (when `claim`), then write the row; or the holder."""
        context, target_id = row["context"], row["target_id"]
        try:
            async with self._write() as db:
                if list(await db.execute_fetchall(
                        "SELECT id FROM audit WHERE idempotency_key = ?",
                        (row["idempotency_key"],))):
                    raise DuplicateAction(STORE_UNAVAILABLE,
                                          f"action {row['idempotency_key']} is recorded already",
                                          "a retried request is never run twice")
                if claim:
                    holder = await self.engine.claim_target(db, context, target_id, time.time(),
                                                     patient=patient)
                    if holder is not None:
                        return None, holder
                # The time is read once the target is ours: the rows of one target never
                # overlap in time, whoever waited for whom.
                started_at, started_iso = identity.now()
                columns = {
                    **row, "started_at": started_at, "started_iso": started_iso,
                    "finished_at": started_at if finished else None,
                    "duration_s": 0.0 if finished else None,
                    "deadline_at": None if finished else started_at + (
                        target_lock.LEGACY_DEADLINE_S if deadline_s is None else deadline_s),
                    **self.engine.session_columns(claimed=claim),
                }
                rows = list(await db.execute_fetchall(
                    f"INSERT INTO audit ({', '.join(columns)})"
                    f" VALUES ({', '.join('?' * len(columns))}) RETURNING id",
                    tuple(columns.values())))
                return int(rows[0][0]), None
        except BaseException:  # a claim whose row was never committed is given back
            if claim:
                with contextlib.suppress(Exception):
                    await self.engine.unclaim(context, target_id)
            raise

    async def audit(
        self,
        limit: int = 200,
        offset: int = 0,
        filter_text: str = "",
        since: float | None = None,
    ) -> list[AuditEntry]:
        """Newest first; `filter_text` words must all match, `field:value` narrows a column."""
        where, args = filter_clause(filter_text)
        clauses = [where] if where else []
        if since is not None:
            clauses.append("started_at >= ?")
            args.append(since)
        sql = f"SELECT {_COLUMNS} FROM audit"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY id DESC LIMIT ? OFFSET ?"
        async with self._read() as db:
            rows = await db.execute_fetchall(sql, (*args, max(0, limit), max(0, offset)))
        return [_entry(r) for r in rows]

    async def audit_entry(self, action_id: int) -> AuditEntry | None:
        async with self._read() as db:
            rows = list(await db.execute_fetchall(
                f"SELECT {_COLUMNS} FROM audit WHERE id = ?", (action_id,)))
        return _entry(rows[0]) if rows else None

    async def unfinished_actions(self) -> list[AuditEntry]:
        """Rows still `started`: their console stopped before the outcome was known."""
        async with self._read() as db:
            rows = await db.execute_fetchall(
                f"SELECT {_COLUMNS} FROM audit WHERE status = 'started' ORDER BY id")
        return [_entry(r) for r in rows]
