"""SQLite's per-target lock across processes: an unfinished audit row holds its target.

Two consoles on one machine (two operators, or the TUI and `novacron vm ...`) share the
audit database, so the rows themselves are the lock. `begin_action` looks for another
`started` row on the same (context, target) and writes its own in the same `BEGIN IMMEDIATE`
transaction, so two consoles can never both take a VM.

A row is only a lock while its process can still finish it:

- written on this host: while that process is alive (`kill(pid, 0)`; EPERM means alive, a
  zombie or a reused pid means gone) and its deadline has not passed;
- written on another host, or by a console too old to record its pid: while its deadline
  (the action's timeout plus a margin, fixed when the row was written) has not passed.

A row that no longer holds is closed as abandoned when found, so the audit tells the truth.
"""

from __future__ import annotations

import os
from typing import Any

from console.store.core import Db
from console.store.holder import Holder, TargetBusy, hostname

__all__ = ["DEADLINE_PASSED", "LEGACY_DEADLINE_S", "PROCESS_GONE", "Holder", "TargetBusy",
           "holder_of", "hostname", "process_alive", "process_start"]

LEGACY_DEADLINE_S = 660.0
"""Deadline of a row that carries none (schema 1): the dispatcher's longest default call."""

PROCESS_GONE = "abandoned (process gone)"
DEADLINE_PASSED = "abandoned (no outcome by its deadline)"


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks since boot) from /proc, None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode("ascii", "replace")
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2:].split()  # after "pid (comm) ": the comm may hold spaces
    try:
        return fields[0], int(fields[19])
    except (IndexError, ValueError):
        return None


def process_start(pid: int) -> int | None:
    """When `pid` started (to tell it from a later process given the same pid)."""
    stat = _proc_stat(pid)
    return stat[1] if stat else None


def process_alive(pid: int, started: int | None = None) -> bool:
    """Whether `pid` on this host is still the process that wrote the row."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, it is only someone else's
    except OSError:
        return True  # cannot tell: keep the lock rather than risk two actions at once
    stat = _proc_stat(pid)
    if stat is None:
        return True
    state, start = stat
    return state not in ("Z", "X") and (started is None or start == started)


_UNFINISHED = (
    "SELECT id, action, who, started_at, started_iso, pid, pid_start, hostname, deadline_at"
    " FROM audit WHERE status = 'started' AND context = ? AND target_id = ? ORDER BY id"
)


def _gone_because(row: Any, now: float, here: str) -> str:
    """Why the unfinished `row` no longer holds its target ('' while it does)."""
    _id, _action, _who, started_at, _iso, pid, pid_start, host, deadline_at = row
    deadline = deadline_at if deadline_at is not None else started_at + LEGACY_DEADLINE_S
    if pid is not None and host == here and not process_alive(int(pid), pid_start):
        return PROCESS_GONE
    if now >= deadline:
        return DEADLINE_PASSED
    return ""


async def holder_of(db: Db, context: str, target_id: str, now: float, *,
                    close_abandoned: bool = True) -> Holder | None:
    """The live holder of the target.

    Inside the caller's write transaction (`begin_action`) it also closes the rows found
    abandoned on the way, and what it sees cannot change before the caller writes its own row.
    `close_abandoned=False` only reads: a front end asks before a confirmation dialog, and the
    next `begin_action` closes what it skipped.
    """
    here = hostname()
    for row in list(await db.execute_fetchall(_UNFINISHED, (context, target_id))):
        why = _gone_because(row, now, here)
        if not why:
            row_id, action, who, _at, iso, pid, _start, host, _deadline = row
            return Holder(action, who, iso, pid, host, row_id)
        if not close_abandoned:
            continue
        where = f"pid {row[5]} on {row[7]}" if row[5] is not None else "a console of schema 1"
        await db.execute(
            "UPDATE audit SET status = 'failed', finished_at = ?, abandoned_at = ?,"
            " error_message = ?, error_cause = ? WHERE id = ? AND status = 'started'",
            (now, now, why, f"{where} never recorded the outcome of {row[1]}; "
             "check the VM's state", row[0]))
    return None
