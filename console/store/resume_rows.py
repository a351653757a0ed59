"""Actions that are long-running operations (Azure): the audit row keeps what resumes them.

The dispatcher writes the operation's resume token into the action's row as soon as the
backend has started it (`record_resume`). If the console then stops watching, the row stays
resumable: still `started` (the console was killed) or closed as abandoned and not yet given
its real outcome (`abandon_action`: the console quit; or another console found it dead). A
console started later lists those rows (`resumable_actions`), follows each operation to its
end and writes the true outcome into the same row (`finish_action` accepts a row closed as
abandoned). A row abandoned and later finished has `finished_at` past `abandoned_at`, so it is
never resumed twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from console.models import AuditEntry
from console.store import identity, plaintext
from console.store.audit import _COLUMNS, _entry
from console.store.core import StoreCore

RESUMABLE = (
    f"SELECT {_COLUMNS}, resume_json FROM audit"
    " WHERE context = ? AND resume_json <> '' AND started_at >= ?"
    " AND (status = 'started' OR (abandoned_at IS NOT NULL AND finished_at = abandoned_at))"
)


@dataclass(frozen=True, slots=True)
class Resumable:
    """An audited action whose operation may still be running, and how to follow it."""

    entry: AuditEntry
    operation: str
    """The backend's name for the operation (`start`, `power_off`…)."""
    token: str


class ResumableActions(StoreCore):
    """The resume side of the audit log."""

    async def record_resume(self, action_id: int, operation: str, token: str) -> None:
        """Keep the operation's resume token in the action's (still running) row."""
        resume = json.dumps({"operation": operation, "token": token})
        async with self._write() as db:
            await db.execute("UPDATE audit SET resume_json = ? WHERE id = ? AND status = 'started'",
                             (resume, action_id))

    async def abandon_action(self, action_id: int, error_message: str,
                             error_cause: str = "") -> None:
        """Close a row whose console stops watching an operation that goes on: `failed` for
        now, with its target free, and resumable by the next console (`resumable_actions`)."""
        now, _ = identity.now()
        async with self._write() as db:
            rows = list(await db.execute_fetchall(
                "UPDATE audit SET status = 'failed', finished_at = ?, abandoned_at = ?,"
                " duration_s = ? - started_at, error_message = ?, error_cause = ?"
                " WHERE id = ? AND status = 'started' RETURNING id",
                (now, now, now, plaintext.text(error_message), plaintext.text(error_cause),
                 action_id)))
            if rows:
                await self.engine.release(db, action_id)

    async def resumable_actions(self, context: str, since: float) -> list[Resumable]:
        """This context's rows whose operation nobody has seen end, started after `since`
        (oldest first). A `started` one may still be watched by a live console: taking its
        target (`begin_action`) tells."""
        async with self._read() as db:
            rows = list(await db.execute_fetchall(RESUMABLE + " ORDER BY id", (context, since)))
        found = []
        for row in rows:
            try:
                resume = json.loads(row[-1])
                found.append(Resumable(_entry(row[:-1]), str(resume["operation"]),
                                       str(resume["token"])))
            except (ValueError, KeyError, TypeError):
                continue  # not ours to guess at: the row keeps its status
        return found

    async def still_resumable(self, action_id: int) -> bool:
        """Whether the row still waits for its outcome (no other console wrote it meanwhile)."""
        async with self._read() as db:
            rows = list(await db.execute_fetchall(
                "SELECT 1 FROM audit WHERE id = ? AND resume_json <> '' AND (status = 'started'"
                " OR (abandoned_at IS NOT NULL AND finished_at = abandoned_at))", (action_id,)))
        return bool(rows)
