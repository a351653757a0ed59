"""VM actions as Azure long-running operations (the `SupportsPower` half of the backend).

Each action starts an ARM operation (`begin_*`), follows its poller to the end through
`Operations` (progress and continuation token published on the way) and maps failures to
NOVA codes. ARM's VM actions are idempotent (powering off a VM that is off succeeds), so the
SDK's own retry of a throttled request never does a thing twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from backends.base import report_resume_token
from console.errors import Code, NovaError

from .errors import translate
from .inventory import ResourceId, leftover_disks
from .lro import Operation, Operations

POWERED_OFF_NOTE = ("powered off, but still billed for compute: Azure keeps its hardware "
                    "reserved until it is deallocated")
DEALLOCATED_NOTE = "deallocated: compute is no longer billed (disks still are)"

BEGIN: dict[str, tuple[str, dict[str, Any]]] = {
    "start": ("begin_start", {}),
    "power_off": ("begin_power_off", {"skip_shutdown": False}),
    "force_off": ("begin_power_off", {"skip_shutdown": True}),
    "restart": ("begin_restart", {}),
    "deallocate": ("begin_deallocate", {}),
    "hibernate": ("begin_deallocate", {"hibernate": True}),
    "delete": ("begin_delete", {}),
    "resize": ("begin_update", {"parameters": None}),
    "create": ("begin_create_or_update", {"parameters": None}),
}
"""Our action names → the SDK method that starts it and its fixed arguments."""

CREATE_PREFIX = "create:"
"""A create's resume name is `create:<VM resource id>`: its audit row's target is the VM to be
(`new:<name>`), so the operation itself says which VM it makes."""

NOTES = {"power_off": POWERED_OFF_NOTE, "force_off": POWERED_OFF_NOTE,
         "deallocate": DEALLOCATED_NOTE}


class ActionsMixin:
    """start / shutdown / reboot / force_off / suspend / resume / delete, plus `deallocate`
    and `resume_operation`. The host class provides the clients and settings below."""

    name: str
    read_only: bool
    operations: Operations
    operation_timeout_s: float
    retries: int
    compute: Callable[[str], Awaitable[Any]]
    """The subscription's `ComputeManagementClient` (opened on first use)."""
    last_seen: Callable[[str], Any]
    """The VM's ARM document (JSON) from the last listing (None when not listed yet)."""

    # -- SupportsPower -----------------------------------------------------------------------

    async def start(self, vm_id: str) -> None:
        await self._run("start", vm_id)

    async def shutdown(self, vm_id: str, timeout_s: float = 60.0) -> str:
        """Power off through the guest (ACPI), waiting up to `timeout_s` (NOVA-2002 when it has
        not ended by then). A powered-off VM is still billed: the returned note says so."""
        op = await self._run("power_off", vm_id, timeout_s=timeout_s)
        return op.note

    async def reboot(self, vm_id: str) -> None:
        await self._run("restart", vm_id)

    async def force_off(self, vm_id: str) -> str:
        """Power off without asking the guest (`skipShutdown=true`); still billed."""
        op = await self._run("force_off", vm_id)
        return op.note

    async def suspend(self, vm_id: str) -> None:
        """Hibernate: deallocate keeping memory on disk. Azure refuses (NOVA-3004) for a VM
        created without hibernation enabled."""
        await self._run("hibernate", vm_id)

    async def resume(self, vm_id: str) -> None:
        """Start a hibernated (or stopped) VM."""
        await self._run("start", vm_id)

    async def delete(self, vm_id: str, remove_storage: bool = False) -> Sequence[str]:
        """Delete the VM; returns the disks Azure kept. Azure deletes a VM's disks only when
        their deleteOption is `Delete` (set when the VM was made); `remove_storage` cannot
        change that here, so the others are returned, for the operator to delete."""
        seen = self.last_seen(vm_id) or {}
        kept = leftover_disks((seen.get("properties") or {}).get("storageProfile"))
        await self._run("delete", vm_id)
        return kept

    # -- Azure only --------------------------------------------------------------------------

    def caveat(self, action: str) -> str:
        """SupportsCaveats: said in the confirmation dialog, before the operator decides."""
        if action in ("vm.shutdown", "vm.force_off"):
            return ("Azure: a powered-off VM is still billed for compute until it is "
                    "deallocated (X).")
        return ""

    async def deallocate(self, vm_id: str) -> str:
        """Stop the VM and release its hardware: compute billing stops (disks stay billed);
        it may come back on other hardware with another dynamic IP."""
        op = await self._run("deallocate", vm_id)
        return op.note

    async def resume_operation(self, action: str, vm_id: str, token: str) -> Operation:
        """Follow an operation started earlier (by this or another process) from its
        continuation token to its true end; returns the final `Operation`."""
        if action.startswith(CREATE_PREFIX):  # a create's row names no VM yet: the token's does
            action, vm_id = "create", action[len(CREATE_PREFIX):]
        if action not in BEGIN:
            raise NovaError(Code.NOT_SUPPORTED, f"resume {action!r}",
                            f"known operations: {', '.join(sorted(BEGIN))}")
        return await self._run(action, vm_id, token=token)

    # -- plumbing ----------------------------------------------------------------------------

    async def _run(self, action: str, vm_id: str, *, timeout_s: float | None = None,
                   token: str = "", args: dict[str, Any] | None = None,
                   accepted: list[str] | None = None) -> Operation:
        """Start (or, with `token`, resume) `action` and follow it to its end. `accepted`
        receives the token once Azure took the request (a failure after that may have left
        something behind)."""
        if self.read_only and not token:
            raise NovaError(Code.READ_ONLY, f"{action} on {self.name}",
                            "this Azure source was opened read-only")
        detail = f"{action.replace('_', ' ')} {vm_id.rsplit('/', 1)[-1]}"
        try:
            rid = ResourceId.parse(vm_id)
        except ValueError as exc:
            raise NovaError(Code.VM_NOT_FOUND, detail, str(exc)) from None
        method, fixed = BEGIN[action]
        limit = timeout_s if timeout_s is not None else self.operation_timeout_s
        try:
            client = await self.compute(rid.subscription)
            begin = getattr(client.virtual_machines, method)
            extra = ({**fixed, "continuation_token": token} if token
                     else {**fixed, **(args or {})})
            poller = await asyncio.wait_for(begin(rid.resource_group, rid.name, **extra),
                                            max(limit, 1.0))
            now = time.time()
            op = Operation(action=action, vm_id=vm_id, token=poller.continuation_token(),
                           started_at=now, updated_at=now, note=NOTES.get(action, ""))
            if accepted is not None:
                accepted.append(op.token)
            if not token:  # into the audit row before the first poll (a resume has one)
                name = f"{CREATE_PREFIX}{vm_id}" if action == "create" else action
                await report_resume_token(name, op.token)
            return await self.operations.follow(poller, op, timeout_s=limit)
        except TimeoutError as exc:
            raise NovaError(Code.TIMEOUT, detail,
                            f"not finished within {limit:g} s; it goes on in Azure "
                            "(resume watching it with its continuation token)") from exc
        except NovaError:
            raise
        except Exception as exc:
            raise translate(exc, detail, retries=self.retries) from exc
