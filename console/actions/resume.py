"""At start: follow to their end the operations a previous console stopped watching.

An Azure action is a long-running operation; its audit row keeps the operation's resume token
(`console.store.resume_rows`). When a console was killed or quit mid-way, the next one started
on the same store finds those rows, takes each target through the audit log as any action does
(a console still watching it keeps it: nothing is resumed twice), asks the backend to follow
the operation from its token (the start request is never sent again), and writes the true
outcome, with the cloud's error code, into the original row. The resuming console's own row
(`params.resumed_from`) says who watched it to the end.

No Textual here: the app runs `resume_unfinished` once its dispatcher is open.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from backends.base import SupportsOperations, action_key
from console.actions.dispatcher import (
    CALL_MARGIN_S,
    DEFAULT_CALL_LIMIT_S,
    Dispatcher,
    Request,
    Target,
    as_nova,
    plain_message,
)
from console.errors import NovaError
from console.store import Resumable, Store, TargetBusy

log = logging.getLogger(__name__)

RESUME_WITHIN_S = 24 * 3600.0
"""Older tokens are left alone: the cloud forgets finished operations (Azure keeps their
status for a limited time), and the audit row already says the outcome is unknown."""


@dataclass(frozen=True, slots=True)
class Resumed:
    """One resumed operation and how it ended (`error` None: it succeeded)."""

    audit_id: int
    target: Target
    action: str
    error: NovaError | None = None
    skipped: str = ""
    """Why it was not resumed here (another console watches it), '' when it was."""


async def resume_unfinished(dispatcher: Dispatcher, *,
                            within_s: float = RESUME_WITHIN_S) -> list[Resumed]:
    """Resume every resumable operation of the dispatcher's context, all at once."""
    store = dispatcher.audit
    if not isinstance(store, Store):
        return []
    rows = await store.resumable_actions(dispatcher.context, time.time() - within_s)
    if not rows:
        return []
    return list(await asyncio.gather(*(_resume(dispatcher, store, row) for row in rows)))


def _target(row: Resumable) -> Target:
    backend, _, vm_id = row.entry.target_id.partition("/")
    return Target(backend, vm_id, row.entry.target_name)


async def _resume(dispatcher: Dispatcher, store: Store, row: Resumable) -> Resumed:
    entry, target = row.entry, _target(row)
    backend = dispatcher.backend(target.backend)
    if not isinstance(backend, SupportsOperations):
        return Resumed(entry.id, target, entry.action, skipped=f"no source {target.backend!r} "
                       "that can follow operations in this context")
    limit = DEFAULT_CALL_LIMIT_S
    try:
        mine = await store.begin_action(
            context=dispatcher.context, target_kind=entry.target_kind,
            target_id=entry.target_id, target_name=entry.target_name, action=entry.action,
            params={"resumed_from": entry.id, "operation": row.operation, "origin": "resume"},
            deadline_s=limit + CALL_MARGIN_S)
    except TargetBusy as busy:  # its own console (or another) is watching it
        return Resumed(entry.id, target, entry.action, skipped=busy.holder.still_running(
            entry.action))
    if not await store.still_resumable(entry.id):  # finished by another console meanwhile
        await store.finish_action(mine, "refused", 0.0, "", "already resumed",
                                  "another console recorded the outcome first")
        return Resumed(entry.id, target, entry.action, skipped="already resumed")
    started = time.monotonic()
    key = action_key.set(entry.idempotency_key)
    error: NovaError | None = None
    try:
        await asyncio.wait_for(backend.resume_operation(row.operation, target.vm_id, row.token),
                               limit)
    except asyncio.CancelledError:  # this console quits too: the next one tries again
        await store.abandon_action(mine, "resume not watched to its end")
        raise
    except Exception as exc:
        error = as_nova(exc, Request(entry.action, target))
    finally:
        action_key.reset(key)
    took = time.monotonic() - started
    status = "ok" if error is None else "failed"
    fields = {"error_code": error.code if error else "",
              "error_message": plain_message(error) if error else "",
              "error_cause": error.cause if error else ""}
    await store.finish_action(entry.id, status, None, **fields)
    await store.finish_action(mine, status, took, **fields)
    log.info("resumed %s on %s (#%s): %s", entry.action, target.key, entry.id, status)
    dispatcher.poke(target.backend)
    return Resumed(entry.id, target, entry.action, error)
