"""Changing an instance's size: the `SupportsResize` and `SupportsRestartResize` halves of
`AwsBackend`.

EC2 changes the instance type (ModifyInstanceAttribute) only while the instance is stopped.
A resize asked in vCPUs and memory becomes the smallest type of the instance's family that
fits (`sizes.smallest_fit`, from the cached DescribeInstanceTypes), said in the result.

- `resize` on a stopped instance changes the type (it applies when the instance starts); on a
  running one it refuses, naming the way out: stop it first, or the restarting resize.
- `resize_restarting` is stop → change type → start as one audited action, each step
  reported; when the change fails the instance is started again (the compensation), so it is
  never left stopped by a resize that did nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from backends.base import Resized, Saga
from console.errors import Code, NovaError

from .ids import InstanceRef
from .inventory import TypeSize
from .sizes import describe_size, family_of, smallest_fit

STATE_POLL_S = 2.0
STATE_WAIT_S = 600.0
"""How long a stop or a start may take (EC2 stops most instances in a minute or two)."""


class ResizeMixin:
    """Mixed into `AwsBackend`; relies on its `_api`, `ref`, `describe` and `family_sizes`."""

    _api: Callable[..., Any]
    ref: Callable[[str], InstanceRef]
    describe: Callable[..., Any]
    family_sizes: Callable[..., Any]

    async def resize(self, vm_id: str, *, vcpus: int | None = None,
                     memory_bytes: int | None = None) -> Resized:
        ref, instance, target, said = await self._target_type(vm_id, vcpus, memory_bytes)
        state = _state(instance)
        if state != "stopped":
            raise NovaError(Code.INVALID_STATE, f"{ref} is {state}: EC2 changes the instance "
                            f"type ({said}) only while it is stopped; stop it first, or resize "
                            "with restart (`novacron vm resize NAME … --restart`, or the "
                            "dialog's \"stop, resize and start again\"): one action")
        await self._set_type(ref, target)
        return Resized(live=False, note=f"{said}; applied when it starts")

    async def resize_restarting(self, vm_id: str, *, vcpus: int | None = None,
                                memory_bytes: int | None = None) -> Resized:
        ref, instance, target, said = await self._target_type(vm_id, vcpus, memory_bytes)
        state = _state(instance)
        if state == "stopped":
            await self._set_type(ref, target)
            return Resized(live=False, note=f"{said}; it was stopped and stays stopped")
        if state != "running":
            raise NovaError(Code.INVALID_STATE, f"{ref} is {state}",
                            "wait until it is running or stopped, then resize")
        async with Saga() as saga:
            await saga.step("stop", str(ref), lambda: self._stop_and_wait(ref),
                            undo=lambda _: self._start_and_wait(ref))
            await saga.step("type", said, lambda: self._set_type(ref, target))
            await saga.step("start", str(ref), lambda: self._start_and_wait(ref))
        return Resized(live=False, note=f"{said}; stopped, resized and started again")

    async def _target_type(self, vm_id: str, vcpus: int | None,
                           memory_bytes: int | None) -> tuple[InstanceRef, dict[str, Any], str, str]:
        """The instance, the type it should get and the change in words."""
        if vcpus is None and memory_bytes is None:
            raise NovaError(Code.CONFIG_INVALID, "resize", "give vCPUs, memory or both")
        ref = self.ref(vm_id)
        instance = await self.describe(ref)
        current = str(instance.get("InstanceType", ""))
        family: dict[str, TypeSize] = await self.family_sizes(ref.profile, ref.region,
                                                              family_of(current))
        target = smallest_fit(family, vcpus=vcpus, memory_bytes=memory_bytes)
        if target == current:
            raise NovaError(Code.INVALID_STATE, f"{ref} is already "
                            f"{describe_size(target, family[target])}, the smallest "
                            f"{family_of(current)} type with what was asked; ask for more (or "
                            "less) to change it")
        now = describe_size(current, family[current]) if current in family else current
        said = f"{now} → {describe_size(target, family[target])}, the smallest " \
               f"{family_of(current)} type that fits"
        return ref, instance, target, said

    async def _set_type(self, ref: InstanceRef, target: str) -> None:
        await self._api("ec2", ref.profile, ref.region, "modify_instance_attribute",
                        InstanceId=ref.instance_id, InstanceType={"Value": target})

    async def _stop_and_wait(self, ref: InstanceRef) -> None:
        await self._api("ec2", ref.profile, ref.region, "stop_instances",
                        InstanceIds=[ref.instance_id])
        await self._until(ref, "stopped")

    async def _start_and_wait(self, ref: InstanceRef) -> None:
        await self._api("ec2", ref.profile, ref.region, "start_instances",
                        InstanceIds=[ref.instance_id])
        await self._until(ref, "running")

    async def _until(self, ref: InstanceRef, wanted: str, wait_s: float = STATE_WAIT_S) -> None:
        deadline = time.monotonic() + wait_s
        while (state := _state(await self.describe(ref))) != wanted:
            if state in ("terminated", "shutting-down"):
                raise NovaError(Code.INVALID_STATE, f"{ref} is {state}, not {wanted}",
                                "it was terminated meanwhile")
            if time.monotonic() >= deadline:
                raise NovaError(Code.TIMEOUT, f"{ref} is still {state}, not {wanted}, after "
                                f"{wait_s:g} s", "EC2 has not finished; look at it with "
                                "`aws ec2 describe-instances`")
            await asyncio.sleep(STATE_POLL_S)


def _state(instance: dict[str, Any]) -> str:
    return str(instance.get("State", {}).get("Name", ""))
