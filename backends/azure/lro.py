"""Long-running operations: follow an Azure poller to its end, show its progress, resume it.

Every Azure VM action (start, power off, deallocate, restart, delete) returns 202 and a poller.
`Operations` follows each one, publishes an `Operation` every time its status changes (a board
shows it like a migration) and keeps the poller's continuation token, which is all another
process needs to watch the same operation to its true end after a restart
(`AzureBackend.resume_operation`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

from backends.base import Operation

__all__ = ["RUNNING", "SUCCEEDED", "Listener", "Operation", "Operations"]

log = logging.getLogger(__name__)

RUNNING = "InProgress"
SUCCEEDED = "Succeeded"


Listener = Callable[[Operation], None]


class Operations:
    """The operations this backend is following, by VM id, and who wants to hear of them."""

    def __init__(self) -> None:
        self.running: dict[str, Operation] = {}
        self._listeners: list[Listener] = []

    def listen(self, callback: Listener) -> None:
        """Call `callback(op)` when an operation starts (its token known), changes status and
        ends. Called on the event loop; it must not block."""
        self._listeners.append(callback)

    def publish(self, op: Operation) -> None:
        if op.done:
            self.running.pop(op.vm_id, None)
        else:
            self.running[op.vm_id] = op
        for callback in list(self._listeners):
            try:
                callback(op)
            except Exception:  # a broken board must not break the action
                log.exception("operation listener failed for %s", op.vm_id)

    async def follow(self, poller: Any, op: Operation, *, timeout_s: float,
                     check_s: float = 0.5) -> Operation:
        """Await `poller` to its end, publishing each status change; return the final
        `Operation` (the poller's own error propagates). On timeout the poller is abandoned
        (the operation goes on in Azure) and TimeoutError is raised."""
        self.publish(op)
        task = asyncio.ensure_future(poller.result())
        last = op.status
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{op.action} still {last} after {timeout_s:g} s")
                done, _ = await asyncio.wait({task}, timeout=min(check_s, remaining))
                status = str(poller.status() or last)
                if status != last or done:
                    last = status
                    if not done:
                        op = dataclasses.replace(op, status=status, updated_at=time.time())
                        self.publish(op)
                if done:
                    break
            task.result()
        except BaseException as exc:
            failed = dataclasses.replace(op, status=_failed_status(exc, last),
                                         updated_at=time.time(), error=str(exc).splitlines()[0]
                                         if str(exc) else type(exc).__name__)
            self.publish(failed)
            raise
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        final = dataclasses.replace(op, status=str(poller.status() or SUCCEEDED),
                                    updated_at=time.time())
        self.publish(final)
        return final


def _failed_status(exc: BaseException, last: str) -> str:
    if isinstance(exc, asyncio.CancelledError | TimeoutError):
        return "Unwatched"  # the console stopped watching; Azure carries on
    return last if last not in (RUNNING, "") else "Failed"
