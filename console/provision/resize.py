"""Resize a VM (vCPUs, memory) or grow one of its disks through the dispatcher: the requests
and their validation.

Whether it applies live or at the next boot is the backend's to say (`Resized.live`, `note`):
libvirt changes a running guest up to its maximum; EC2 and Azure need the VM stopped. A grown
disk needs a step inside the guest, which the backend's note names.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

from backends.base import saga_steps
from console.actions.dispatcher import BULK_CONCURRENCY, Dispatcher, Outcome, Request, Target
from console.actions.registry import GROW_DISK, RESIZE
from console.errors import Code, NovaError
from console.models import VM
from console.provision.saga import OnStep, StepAudit


def resize_request(vm: VM, *, vcpus: int | None = None, memory_bytes: int | None = None,
                   origin: str, restart: bool = False) -> Request:
    """The `vm.resize` request; NOVA-1001 when it changes nothing or asks for nonsense."""
    if vcpus is None and memory_bytes is None:
        raise NovaError(Code.CONFIG_INVALID, f"resize {vm.name}", "give vCPUs, memory or both")
    if vcpus is not None and vcpus < 1:
        raise NovaError(Code.CONFIG_INVALID, f"{vcpus} vCPUs", "a VM needs at least 1 vCPU")
    if memory_bytes is not None and memory_bytes < 16 * 2**20:
        raise NovaError(Code.CONFIG_INVALID, f"{memory_bytes} bytes of memory",
                        "give at least 16MiB (units: MiB, GiB)")
    params: dict[str, object] = {k: v for k, v in (("vcpus", vcpus), ("memory_bytes", memory_bytes))
                                 if v is not None}
    if restart:  # stop → resize → start, one audited action (a VM that must be stopped: EC2)
        params["restart"] = True
    return Request(RESIZE, Target(vm.backend, vm.id, vm.name), params, origin=origin)


DISK_NAME = re.compile(r"^[a-z][a-z0-9]{1,15}$")
"""A disk's target name as the hypervisor calls it: vda, sdb, hdc, nvme0n1."""


def grow_disk_request(vm: VM, *, disk: str, size_bytes: int, origin: str) -> Request:
    """The `vm.grow_disk` request; NOVA-1001 for a disk name or size that cannot be right
    (whether the disk exists and is smaller is the backend's to say)."""
    if not DISK_NAME.match(disk):
        raise NovaError(Code.CONFIG_INVALID, f"disk {disk!r}",
                        "give the disk's target name as the VM's definition has it (vda, sdb)")
    if size_bytes < 2**20:
        raise NovaError(Code.CONFIG_INVALID, f"{size_bytes} bytes for {disk}",
                        "give the new size with a unit (e.g. 20GiB)")
    return Request(GROW_DISK, Target(vm.backend, vm.id, vm.name),
                   {"disk": disk, "size_bytes": size_bytes}, origin=origin)


async def run(dispatcher: Dispatcher, requests: Sequence[Request], *,
              on_step: OnStep | None = None) -> list[Outcome]:
    """Run the resizes (or disk growths) at once; a restarting resize's steps (stop, type, start, and the
    start that undoes a failed change) are audited as rows of their own and shown."""

    gate = asyncio.Semaphore(BULK_CONCURRENCY)

    async def one(request: Request) -> Outcome:
        saga_steps.set(StepAudit(dispatcher.audit, dispatcher.context, request.target,
                                 request.action, on_step))
        async with gate:
            return await dispatcher.run(request)

    return list(await asyncio.gather(*(one(r) for r in requests)))
