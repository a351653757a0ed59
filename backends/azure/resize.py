"""Resize an Azure VM (`SupportsResize`): vCPUs and memory become a VM size.

Azure has no free vCPU/memory figures, only sizes: the request is mapped to the smallest size
of the VM's region (the cached size list the inventory uses) that has at least the vCPUs and
memory asked for (fewest vCPUs, then least memory: the cheapest shape in a family). The change
is a PATCH of `hardwareProfile.vmSize`, a long-running operation followed to its end like the
power actions (progress on the board, continuation token in the audit row).

A running VM can only take a size its current hardware cluster offers; ARM refuses others
(409 OperationNotAllowed, "not available in the current hardware cluster"): the operator is
told to deallocate the VM first, then resize and start it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from backends.base import Resized
from console.errors import Code, NovaError

from .inventory import GIB, ResourceId, SizeSpec
from .lro import Operation

CLUSTER_REFUSAL = "current hardware cluster"
"""What ARM's message says when the size needs the VM deallocated first."""


def smallest_fit(sizes: Iterable[SizeSpec], vcpus: int, memory_bytes: int) -> SizeSpec | None:
    """The size with at least `vcpus` and `memory_bytes`: fewest vCPUs, then least memory
    (then the name, so the choice is stable); None when no size is that big."""
    fits = [s for s in sizes if s.vcpus >= vcpus and s.memory_bytes >= memory_bytes]
    return min(fits, key=lambda s: (s.vcpus, s.memory_bytes, s.name), default=None)


def describe(spec: SizeSpec) -> str:
    return f"{spec.name} ({spec.vcpus} vCPU, {spec.memory_bytes / GIB:g} GiB)"


class ResizeMixin:
    """`resize`; the host class provides the clients, the listing and `_run` (actions)."""

    name: str
    last_seen: Callable[[str], Any]
    region_sizes: Callable[[str, str], Awaitable[dict[str, SizeSpec]]]
    _run: Callable[..., Awaitable[Operation]]

    async def resize(self, vm_id: str, *, vcpus: int | None = None,
                     memory_bytes: int | None = None) -> Resized:
        """Move the VM to the smallest size of its region with the vCPUs and memory asked
        (an unchanged figure keeps the current one). Azure applies it at once, restarting a
        running VM; a size the VM's hardware cluster lacks needs a deallocate first."""
        rid = ResourceId.parse(vm_id)
        seen = self.last_seen(vm_id)
        if not seen:
            raise NovaError(Code.VM_NOT_FOUND, f"resize {rid.name}",
                            "the VM is not in the last listing; refresh and try again")
        current = str(((seen.get("properties") or {}).get("hardwareProfile") or {})
                      .get("vmSize") or "")
        sizes = await self.region_sizes(rid.subscription, str(seen.get("location") or ""))
        now = sizes.get(current.lower())
        want_cpu = vcpus or (now.vcpus if now else 0)
        want_mem = memory_bytes or (now.memory_bytes if now else 0)
        chosen = smallest_fit(sizes.values(), want_cpu, want_mem)
        if chosen is None:
            largest = max(sizes.values(), key=lambda s: (s.vcpus, s.memory_bytes), default=None)
            raise NovaError(Code.INSUFFICIENT_RESOURCES, f"resize {rid.name}",
                            f"no VM size in {seen.get('location')} has {want_cpu} vCPU and "
                            f"{want_mem / GIB:g} GiB" + (f"; the largest is {describe(largest)}"
                                                         if largest else ""))
        name = chosen.name
        if name.lower() == current.lower():
            return Resized(live=True, note=f"already {describe(chosen)}")
        update = {"properties": {"hardwareProfile": {"vmSize": name}}}  # the SDK's JSON form
        try:
            await self._run("resize", vm_id, args={"parameters": update})
        except NovaError as err:
            if CLUSTER_REFUSAL in err.cause:
                raise NovaError(Code.INVALID_STATE, f"resize {rid.name} to {name}",
                                f"Azure cannot give {name} to the VM on the hardware it runs "
                                f"on now: deallocate it (X), resize, then start it ({err.cause})"
                                ) from err
            raise
        return Resized(live=True, note=f"now {describe(chosen)} (was {current}); Azure "
                                       "restarts a running VM to apply a new size")
