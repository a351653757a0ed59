"""Lifecycle actions on EC2 instances: the `SupportsPower` half of `AwsBackend`.

Only the dispatcher calls these. The EC2 verbs: start, stop (hibernating the instances
launched with hibernation configured), reboot, stop with `Force` (force-off), hibernate
(suspend), start (resume), terminate (delete). The instance is described first so the
operator reads "already stopped" or "not configured for hibernation" instead of EC2's
wording, and so a graceful stop can be waited for. Start, stop and terminate are idempotent in
EC2 itself, so botocore's own retries of them are safe.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from console.errors import Code, NovaError
from console.sanitize import clean

from .ids import InstanceRef

STOP_POLL_S = 2.0
"""How often a stop is checked on while waiting for `stopped`."""


class PowerMixin:
    """Mixed into `AwsBackend`; relies on its `_api`, `ref` and `name`."""

    name: str
    _api: Callable[..., Any]
    ref: Callable[[str], InstanceRef]

    async def describe(self, ref: InstanceRef) -> dict[str, Any]:
        """The DescribeInstances record of one instance (VM_NOT_FOUND when there is none)."""
        answer = await self._api("ec2", ref.profile, ref.region, "describe_instances",
                                 InstanceIds=[ref.instance_id])
        for reservation in answer.get("Reservations", ()):
            for instance in reservation.get("Instances", ()):
                return dict(instance)
        raise NovaError(Code.VM_NOT_FOUND, str(ref), "DescribeInstances returned nothing")

    async def _ec2(self, ref: InstanceRef, method: str, **kwargs: Any) -> Any:
        return await self._api("ec2", ref.profile, ref.region, method,
                               InstanceIds=[ref.instance_id], **kwargs)

    async def _state(self, vm_id: str) -> tuple[InstanceRef, dict[str, Any], str]:
        ref = self.ref(vm_id)
        instance = await self.describe(ref)
        return ref, instance, str(instance.get("State", {}).get("Name", ""))

    async def start(self, vm_id: str) -> None:
        ref, _instance, state = await self._state(vm_id)
        if state in ("running", "pending"):
            raise NovaError(Code.INVALID_STATE, str(ref), f"already {state}")
        _refuse_terminated(ref, state)
        await self._ec2(ref, "start_instances")

    async def shutdown(self, vm_id: str, timeout_s: float = 60.0) -> None:
        """StopInstances (hibernating an instance configured for it), then wait for
        `stopped`; NOVA-2002 when it is still stopping after `timeout_s`."""
        ref, instance, state = await self._state(vm_id)
        if state in ("stopped", "stopping"):
            raise NovaError(Code.INVALID_STATE, str(ref), f"already {state}")
        _refuse_terminated(ref, state)
        await self._ec2(ref, "stop_instances", Hibernate=hibernates(instance))
        deadline = time.monotonic() + timeout_s
        while True:
            state = str((await self.describe(ref)).get("State", {}).get("Name", ""))
            if state == "stopped":
                return
            if time.monotonic() >= deadline:
                raise NovaError(Code.TIMEOUT, f"{ref} is still {state} after {timeout_s:g} s",
                                "EC2 has not finished stopping it; force-off is available")
            await asyncio.sleep(min(STOP_POLL_S, max(0.0, deadline - time.monotonic())))

    async def reboot(self, vm_id: str) -> None:
        ref, _instance, state = await self._state(vm_id)
        if state != "running":
            raise NovaError(Code.INVALID_STATE, str(ref), f"not running ({state})")
        await self._ec2(ref, "reboot_instances")

    async def force_off(self, vm_id: str) -> None:
        """StopInstances with Force: no chance for the guest to flush anything."""
        ref, _instance, state = await self._state(vm_id)
        if state == "stopped":
            raise NovaError(Code.INVALID_STATE, str(ref), "already stopped")
        _refuse_terminated(ref, state)
        await self._ec2(ref, "stop_instances", Force=True)

    async def suspend(self, vm_id: str) -> None:
        """Hibernate (StopInstances with Hibernate): only for instances launched with
        hibernation configured; EC2 cannot pause an instance in memory."""
        ref, instance, state = await self._state(vm_id)
        if not hibernates(instance):
            raise NovaError(Code.NOT_SUPPORTED, f"{ref} is not configured for hibernation",
                            "EC2 can only hibernate an instance launched with "
                            "HibernationOptions.Configured = true; shut it down instead")
        if state != "running":
            raise NovaError(Code.INVALID_STATE, str(ref), f"not running ({state})")
        await self._ec2(ref, "stop_instances", Hibernate=True)

    async def resume(self, vm_id: str) -> None:
        """Start a hibernated (or stopped) instance: EC2 restores its memory if hibernated."""
        ref, _instance, state = await self._state(vm_id)
        if state != "stopped":
            raise NovaError(Code.INVALID_STATE, str(ref), f"not stopped or hibernated ({state})")
        await self._ec2(ref, "start_instances")

    async def delete(self, vm_id: str, remove_storage: bool = False) -> Sequence[str]:
        """TerminateInstances. Volumes with DeleteOnTermination go with it; with
        `remove_storage` the ones that stay are returned (EC2 keeps them, and so do we)."""
        ref, instance, state = await self._state(vm_id)
        _refuse_terminated(ref, state)
        try:
            await self._ec2(ref, "terminate_instances")
        except NovaError as exc:
            if exc.kind is Code.INVALID_STATE and "OperationNotPermitted" in exc.cause:
                raise NovaError(
                    Code.INVALID_STATE, f"{ref} has termination protection on (the instance "
                    "attribute DisableApiTermination): turn it off first, e.g. `aws ec2 "
                    f"modify-instance-attribute --instance-id {ref.instance_id} "
                    f"--no-disable-api-termination --region {ref.region}`", exc.cause) from exc
            raise
        if not remove_storage:
            return []
        return [clean(m["Ebs"]["VolumeId"]) for m in instance.get("BlockDeviceMappings", ())
                if "Ebs" in m and not m["Ebs"].get("DeleteOnTermination", False)]


def hibernates(instance: dict[str, Any]) -> bool:
    return bool(instance.get("HibernationOptions", {}).get("Configured"))


def _refuse_terminated(ref: InstanceRef, state: str) -> None:
    if state in ("terminated", "shutting-down"):
        raise NovaError(Code.INVALID_STATE, str(ref), f"{state}: a terminated instance "
                        "cannot be started, stopped or terminated again")
