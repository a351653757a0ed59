"""The audit of a saga: each step of a create, and each compensation, as its own audit row.

A backend's multi-step call reports its steps through `backends.base.saga_steps`; the
`StepAudit` set there by `console.provision.create` writes one row per step
(`vm.create.volume`, `vm.create.volume.undo`…) on the same target as the create itself, so
`novacron audit --filter action:vm.create` tells the whole story: what was made, what failed,
what was undone. It also hands each step to the front end for its progress display.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from console.actions.dispatcher import AuditLog, Target

log = logging.getLogger(__name__)

OnStep = Callable[[str, str, str, str], Any]
"""(VM name, step, status, detail) → anything; awaited when it returns an awaitable."""


@dataclass
class StepAudit:
    """`backends.base.StepReport` for one request: audit rows and progress callbacks."""

    audit: AuditLog
    context: str
    target: Target
    action: str
    on_step: OnStep | None = None
    _open: dict[str, int] = field(default_factory=dict)

    async def __call__(self, step: str, status: str, detail: str) -> None:
        undo = status in ("undoing", "undone") or (status == "failed" and detail.startswith("undo"))
        action = f"{self.action}.{step}" + (".undo" if undo else "")
        try:
            await self._record(action, status, detail)
        except Exception as exc:  # the step happened; a lost row must not stop the saga
            log.error("audit: could not record step %s of %s: %s", action, self.target.key, exc)
        if self.on_step is not None:
            result = self.on_step(self.target.name, step, status, detail)
            if hasattr(result, "__await__"):
                await result

    async def _record(self, action: str, status: str, detail: str) -> None:
        if status in ("started", "undoing"):
            self._open[action] = await self.audit.begin_action(
                context=self.context, target_kind="vm", target_id=self.target.key,
                target_name=self.target.name, action=action, params={"detail": detail},
                exclusive=False)
            return
        row = self._open.pop(action, None)
        if row is None:  # a step with no start (the request was already done)
            row = await self.audit.begin_action(
                context=self.context, target_kind="vm", target_id=self.target.key,
                target_name=self.target.name, action=action, params={"detail": detail},
                exclusive=False)
        failed = status == "failed"
        await self.audit.finish_action(row, outcome="failed" if failed else "ok",
                                       error_message=detail if failed else "")
