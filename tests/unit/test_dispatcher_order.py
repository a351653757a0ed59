"""The dispatcher's checks run in a fixed order — read-only, capability, confirmation, lock,
audit, call, outcome — so when several would refuse, the first one names the reason. One row
per case: what is wrong with the request, and the refusal (or outcome) the operator sees."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from backends.base import action_key
from console.actions.dispatcher import Dispatcher, Request, Target
from console.errors import Code, NovaError
from console.store.target_lock import Holder, TargetBusy


class Calls:
    """A backend with lifecycle actions only (no snapshots), recording what it was asked."""

    name, kind = "h1", "test"

    def __init__(self, fail: NovaError | None = None) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.fail = fail

    async def hosts(self) -> list[Any]:
        return []

    async def vms(self) -> list[Any]:
        return []

    async def close(self) -> None: ...

    async def _record(self, method: str, vm_id: str) -> None:
        self.calls.append((method, vm_id, action_key.get()))
        if self.fail is not None:
            raise self.fail

    async def start(self, vm_id: str) -> None:
        await self._record("start", vm_id)

    async def shutdown(self, vm_id: str, timeout_s: float = 60.0) -> None:
        await self._record("shutdown", vm_id)

    async def reboot(self, vm_id: str) -> None:
        await self._record("reboot", vm_id)

    async def force_off(self, vm_id: str) -> None:
        await self._record("force_off", vm_id)

    async def suspend(self, vm_id: str) -> None:
        await self._record("suspend", vm_id)

    async def resume(self, vm_id: str) -> None:
        await self._record("resume", vm_id)

    async def delete(self, vm_id: str, remove_storage: bool = False) -> list[str]:
        await self._record("delete", vm_id)
        return []


class Audit:
    """The audit log as the dispatcher sees it: rows in order; a busy VM or a broken log."""

    def __init__(self, busy: bool = False, broken: bool = False) -> None:
        self.rows: list[dict[str, Any]] = []
        self.busy, self.broken = busy, broken

    async def begin_action(self, **fields: Any) -> int:
        if self.broken:
            raise OSError("disk full")
        if self.busy:
            raise TargetBusy(fields["target_name"],
                             Holder("vm.reboot", "ana", "2026-12-01T03:00:00", 1, "bastion-2"))
        self.rows.append({"status": "started", **fields})
        return len(self.rows)

    async def finish_action(self, action_id: int, outcome: Any, **fields: Any) -> None:
        self.rows[action_id - 1] |= {"status": outcome, **fields}

    async def record_refusal(self, **fields: Any) -> int:
        self.rows.append({"status": "refused", **fields})
        return len(self.rows)


VM = Target("h1", "uuid-1", "web-01")
ELSEWHERE = Target("nowhere", "uuid-9", "ghost")

CASES: list[tuple[str, Mapping[str, Any], str, Code | None]] = [
    # (why, setup, action, expected code (None: ran))
    ("read-only wins over everything", dict(read_only=True, target=ELSEWHERE, busy=True),
     "vm.force_off", Code.READ_ONLY),
    ("then the source must exist", dict(target=ELSEWHERE), "vm.force_off", Code.VM_NOT_FOUND),
    ("then the capability", dict(confirmed=False, busy=True, params={"snapshot": "s1"}),
     "vm.snapshot_delete", Code.NOT_SUPPORTED),
    ("then the confirmation", dict(confirmed=False, busy=True), "vm.force_off",
     Code.NOT_CONFIRMED),
    ("then the lock", dict(busy=True), "vm.force_off", Code.OPERATION_IN_PROGRESS),
    ("an unwritable audit log stops the call", dict(broken=True), "vm.force_off",
     Code.BACKEND_ERROR),
    ("a failing call is recorded with its code", dict(fail=NovaError(Code.TIMEOUT, "x")),
     "vm.reboot", Code.TIMEOUT),
    ("all clear: the call runs", {}, "vm.reboot", None),
]


@pytest.mark.parametrize(("why", "setup", "action", "expected"), CASES, ids=[c[0] for c in CASES])
async def test_the_first_failing_check_names_the_refusal(why: str, setup: Mapping[str, Any],
                                                         action: str, expected: Code | None) -> None:
    backend = Calls(fail=setup.get("fail"))
    audit = Audit(busy=setup.get("busy", False), broken=setup.get("broken", False))
    dispatcher = Dispatcher({"h1": backend}, audit=audit, context="t",
                            read_only=setup.get("read_only", False))
    target = setup.get("target", VM)
    confirmed = setup.get("confirmed", True)
    request = Request(action, target, setup.get("params", {}), confirmed=confirmed,
                      typed_name=target.name if confirmed else None)
    outcome = await dispatcher.run(request)

    assert (outcome.error.kind if outcome.error else None) is expected, outcome
    ran = [c for c in backend.calls if c[0] == action.removeprefix("vm.")]
    if expected in (None, Code.TIMEOUT):  # the call happened, under its audited key
        assert ran == [(action.removeprefix("vm."), target.vm_id, request.idempotency_key)]
        assert audit.rows[-1]["status"] == ("ok" if expected is None else "failed")
        assert audit.rows[-1]["action"] == action
    else:
        assert ran == []
        if expected is not Code.BACKEND_ERROR:  # a refusal is audited under its own reason
            assert audit.rows[-1]["status"] == "refused"
            assert audit.rows[-1]["error_code"] == expected.code
