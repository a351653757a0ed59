"""Live-migration history: a row when a migration starts, closed when it ends.

A row without an end is a migration this console never saw finish (it was closed or
killed); on restart the console asks the hosts what became of it.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from typing import Any

from console.models import Migration, MigrationPhase, MigrationRecord
from console.store import identity, plaintext
from console.store.core import StoreCore
from console.store.holder import hostname

_COLUMNS = (
    "id, context, vm_id, vm_name, source, target, started_at, phase, who, job_id, audit_id,"
    " finished_at, stats_json, error"
)
_ENDED = (MigrationPhase.DONE, MigrationPhase.FAILED, MigrationPhase.CANCELLED)


def _record(row: Any) -> MigrationRecord:
    values = list(row)
    values[7] = MigrationPhase(values[7])
    return MigrationRecord(*values)


def stats_json(stats: Migration | Mapping[str, Any] | None) -> str:
    """Final figures as JSON: the numbers of a `Migration`, or a mapping as given."""
    if stats is None:
        return "{}"
    if isinstance(stats, Migration):
        figures = {f.name: getattr(stats, f.name) for f in dataclasses.fields(stats)
                   if isinstance(getattr(stats, f.name), int | float)}
        return json.dumps(figures, sort_keys=True)
    return plaintext.params_json(stats)


class MigrationHistory(StoreCore):
    """Migration-history methods of the store."""

    async def record_migration_start(
        self,
        *,
        context: str,
        vm_id: str,
        vm_name: str,
        source: str,
        target: str,
        job_id: str = "",
        audit_id: int | None = None,
    ) -> int:
        """Remember a migration that is starting; returns the record id."""
        started_at, _ = identity.now()
        async with self._write() as db:
            rows = list(await db.execute_fetchall(
                "INSERT INTO migration (context, vm_id, vm_name, source, target, who, job_id,"
                " audit_id, started_at, phase, pid, hostname)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (plaintext.text(context), plaintext.text(vm_id), plaintext.text(vm_name),
                 plaintext.text(source), plaintext.text(target),
                 plaintext.text(identity.local_user()), plaintext.text(job_id), audit_id,
                 started_at, MigrationPhase.RUNNING.value, os.getpid(),
                 plaintext.text(hostname())),
            ))
        return int(rows[0][0])

    async def record_migration_end(
        self,
        record_id: int,
        phase: MigrationPhase | str,
        stats: Migration | Mapping[str, Any] | None = None,
        error: str = "",
    ) -> MigrationRecord:
        """Close a migration with its final phase (done / failed / cancelled) and figures."""
        final = MigrationPhase(phase)
        if final not in _ENDED:
            raise ValueError(f"{final.value!r} is not a final migration phase")
        finished_at, _ = identity.now()
        async with self._write() as db:
            rows = list(await db.execute_fetchall(
                "UPDATE migration SET finished_at = ?, phase = ?, stats_json = ?, error = ?"
                f" WHERE id = ? AND finished_at IS NULL RETURNING {_COLUMNS}",
                (finished_at, final.value, stats_json(stats), plaintext.text(error),
                 record_id),
            ))
        if not rows:
            raise KeyError(f"no unfinished migration record with id {record_id}")
        return _record(rows[0])

    async def unfinished_migrations(self, context: str | None = None) -> list[MigrationRecord]:
        """Migrations never seen to end (oldest first), for a restarted console to re-check."""
        sql = f"SELECT {_COLUMNS} FROM migration WHERE finished_at IS NULL"
        args: tuple[Any, ...] = ()
        if context is not None:
            sql += " AND context = ?"
            args = (context,)
        async with self._read() as db:
            rows = await db.execute_fetchall(sql + " ORDER BY id", args)
        return [_record(r) for r in rows]

    async def migrations(self, limit: int = 100, offset: int = 0) -> list[MigrationRecord]:
        """Newest first."""
        async with self._read() as db:
            rows = await db.execute_fetchall(
                f"SELECT {_COLUMNS} FROM migration ORDER BY id DESC LIMIT ? OFFSET ?",
                (max(0, limit), max(0, offset)))
        return [_record(r) for r in rows]
