"""Resize a VM (vCPUs, memory) through the dispatcher: the request and its validation.

Whether it applies live or at the next boot is the backend's to say (`Resized.live`, `note`):
libvirt changes a running guest up to its maximum; EC2 and Azure need the VM stopped.
"""

from __future__ import annotations

from console.actions.dispatcher import Request, Target
from console.actions.registry import RESIZE
from console.errors import Code, NovaError
from console.models import VM


def resize_request(vm: VM, *, vcpus: int | None = None, memory_bytes: int | None = None,
                   origin: str) -> Request:
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
    return Request(RESIZE, Target(vm.backend, vm.id, vm.name), params, origin=origin)
