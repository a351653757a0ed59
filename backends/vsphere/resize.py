"""Changing a vSphere VM's vCPUs and memory: the `SupportsResize` half of `VsphereBackend`.

ReconfigVM_Task with `numCPUs` / `memoryMB`. A powered-off VM takes any size, applied when it
starts. A running VM changes live only where its hot-plug settings allow: more vCPUs with CPU
hot-add, fewer with CPU hot-remove, more memory with memory hot-add; memory never shrinks
live. vSphere keeps no "pending" size for the next boot (libvirt's CONFIG), so anything else
is refused before vCenter is asked: "power it off first", naming the setting. A suspended VM
cannot be reconfigured at all.

The check is ours: vCenter refuses the same changes with its own fault (which, should it
still refuse, is passed on), but a simulator such as vcsim accepts them all.
"""

from __future__ import annotations

from typing import Any

from pyVmomi import vim

from backends.base import Resized
from console.errors import Code, NovaError

from .actions import TaskRunner
from .inventory import properties_of

MIB = 2**20
SIZE_PROPERTIES = ["name", "runtime.powerState", "config.hardware.numCPU",
                   "config.hardware.memoryMB", "config.hardware.numCoresPerSocket",
                   "config.cpuHotAddEnabled", "config.cpuHotRemoveEnabled",
                   "config.memoryHotAddEnabled", "config.template"]


def live_refusals(props: dict[str, Any], vcpus: int | None, memory_mb: int | None) -> list[str]:
    """What stops the change on a running VM, in vSphere's words (empty: it can go live)."""
    why = []
    cpus = int(props.get("config.hardware.numCPU") or 0)
    memory = int(props.get("config.hardware.memoryMB") or 0)
    if vcpus is not None and vcpus > cpus and not props.get("config.cpuHotAddEnabled"):
        why.append("CPU hot-add is not enabled on it")
    if vcpus is not None and vcpus < cpus and not props.get("config.cpuHotRemoveEnabled"):
        why.append("CPU hot-remove is not enabled on it")
    if memory_mb is not None and memory_mb > memory and not props.get("config.memoryHotAddEnabled"):
        why.append("memory hot-add is not enabled on it")
    if memory_mb is not None and memory_mb < memory:
        why.append("vSphere cannot remove memory from a running VM")
    return why


def check_sizes(name: str, props: dict[str, Any], vcpus: int | None, memory_bytes: int | None) -> None:
    """Sizes vSphere would refuse whatever the power state."""
    if memory_bytes is not None and memory_bytes % (4 * MIB):
        raise NovaError(Code.CONFIG_INVALID, f"{memory_bytes // MIB} MiB for {name}",
                        "vSphere takes memory in multiples of 4 MiB")
    cores = int(props.get("config.hardware.numCoresPerSocket") or 1)
    if vcpus is not None and vcpus % cores:
        raise NovaError(Code.CONFIG_INVALID, f"{vcpus} vCPUs for {name}",
                        f"it has {cores} cores per socket: give a multiple of {cores}")


class ResizeMixin(TaskRunner):
    """Mixed into `VsphereBackend`."""

    async def resize(self, vm_id: str, *, vcpus: int | None = None,
                     memory_bytes: int | None = None) -> Resized:
        self._refuse_if_read_only("resize")
        if vcpus is None and memory_bytes is None:
            raise NovaError(Code.CONFIG_INVALID, "resize", "give --vcpus, --memory or both")
        vm, props = await self._call(self._sizes, vm_id, about=self.vm_name(vm_id))
        name = str(props.get("name", vm_id))
        check_sizes(name, props, vcpus, memory_bytes)
        memory_mb = memory_bytes // MIB if memory_bytes is not None else None
        state = props.get("runtime.powerState", "")
        if props.get("config.template"):
            raise NovaError(Code.INVALID_STATE, name, "it is a template: convert it to a VM first")
        if state == "suspended":
            raise NovaError(Code.INVALID_STATE, name, "it is suspended: vSphere reconfigures "
                            "only a running or powered-off VM; resume or power it off first")
        live = state == "poweredOn"
        if live and (why := live_refusals(props, vcpus, memory_mb)):
            raise NovaError(Code.INVALID_STATE, f"{name} is running",
                            f"power it off first: {'; '.join(why)} (vSphere keeps no size "
                            "for the next boot)")
        spec = vim.vm.ConfigSpec(**{k: v for k, v in (("numCPUs", vcpus), ("memoryMB", memory_mb))
                                    if v is not None})
        await self.run_task(lambda _c: vm.ReconfigVM_Task(spec), about=name)
        done = ", ".join(([f"{vcpus} vCPUs"] if vcpus is not None else [])
                         + ([f"{memory_mb:,} MiB"] if memory_mb is not None else []))
        return Resized(live=live, note=f"now: {done}" if live else f"applied when it starts: {done}")

    def _sizes(self, content: Any, vm_id: str) -> tuple[Any, dict[str, Any]]:
        vm = self.vm_ref(content, vm_id)
        return vm, properties_of(content, vm, SIZE_PROPERTIES)
