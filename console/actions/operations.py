"""The long-running operations of a context's backends (Azure's LROs), for the board.

An Azure power-off is not a migration: it has no source and target, no memory figures. It is
one VM, one action and a status going from InProgress to Succeeded or Failed. The feed listens
to every backend that runs its actions as operations (`SupportsOperations.watch_operations`),
including the ones a console resumes after a restart, and keeps the last state of each, so
the migration board can show them beside its migrations. Finished ones stay, marked, until
the operator clears them (`forget_finished`), as finished migrations do.

No Textual here: the board reads `rows()` and redraws when `version` moved.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from dataclasses import dataclass

from backends.base import Backend, Operation, SupportsOperations


@dataclass(frozen=True, slots=True)
class OperationRow:
    """One operation as the board shows it."""

    backend: str
    op: Operation

    @property
    def key(self) -> str:
        return f"{self.backend}/{self.op.vm_id}"

    def elapsed_s(self, now: float | None = None) -> float:
        end = self.op.updated_at if self.op.done else (now or time.time())
        return max(0.0, end - self.op.started_at) if self.op.started_at else 0.0


class OperationsFeed:
    """The operations seen since the console started, one row per VM (its latest)."""

    def __init__(self, backends: Mapping[str, Backend]) -> None:
        self.version = 0
        self._rows: dict[str, OperationRow] = {}
        for name, backend in backends.items():
            if isinstance(backend, SupportsOperations):
                backend.watch_operations(functools.partial(self._seen, name))

    def _seen(self, backend: str, op: Operation) -> None:
        row = OperationRow(backend, op)
        earlier = self._rows.get(row.key)
        if earlier is not None and not earlier.op.done and op.started_at < earlier.op.started_at:
            return  # a late word about an older operation of this VM
        self._rows[row.key] = row
        self.version += 1

    def rows(self) -> list[OperationRow]:
        """Running ones first, then finished; oldest first within each."""
        return sorted(self._rows.values(), key=lambda r: (r.op.done, r.op.started_at))

    @property
    def running(self) -> int:
        return sum(1 for row in self._rows.values() if not row.op.done)

    def forget_finished(self) -> None:
        before = len(self._rows)
        self._rows = {key: row for key, row in self._rows.items() if not row.op.done}
        if len(self._rows) != before:
            self.version += 1
