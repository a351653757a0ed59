"""Changing a libvirt VM's size: the `SupportsResize` half of `LibvirtBackend`, and disk growth.

Live where libvirt allows it: vCPUs and memory up to the domain's maximum change the running
guest and its definition at once (`LIVE|CONFIG`). Beyond the maximum (or on a stopped VM)
only the definition changes, and the result says "applied at next boot". Growing a disk
(`blockResize`) enlarges the virtual disk only: the guest must grow its partition and file
system itself, and the note says how.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import libvirt

from backends.base import Resized
from console.errors import Code, NovaError

LIVE_AND_CONFIG = libvirt.VIR_DOMAIN_AFFECT_LIVE | libvirt.VIR_DOMAIN_AFFECT_CONFIG
CONFIG = libvirt.VIR_DOMAIN_AFFECT_CONFIG


def _mib(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:,.0f} MiB"


def _live_and_config(setter: Callable[[int, int], Any], value: int) -> None:
    """Change the running guest and its definition; one flag at a time for drivers that
    refuse both at once (the test driver)."""
    try:
        setter(value, LIVE_AND_CONFIG)
    except libvirt.libvirtError as err:
        if err.get_error_code() != libvirt.VIR_ERR_INVALID_ARG:
            raise
        setter(value, libvirt.VIR_DOMAIN_AFFECT_LIVE)
        setter(value, CONFIG)


class ResizeMixin:
    """Mixed into `LibvirtBackend`; relies on its `_call`, `domain`, `connection`."""

    _call: Callable[..., Any]
    domain: Callable[[str], libvirt.virDomain]
    connection: Callable[[], libvirt.virConnect]
    _details: dict[str, Any]

    async def resize(self, vm_id: str, *, vcpus: int | None = None,
                     memory_bytes: int | None = None) -> Resized:
        if vcpus is None and memory_bytes is None:
            raise NovaError(Code.CONFIG_INVALID, "resize", "give --vcpus, --memory or both")
        if (vcpus is not None and vcpus < 1) or (memory_bytes is not None and memory_bytes < 2**20):
            raise NovaError(Code.CONFIG_INVALID, "resize", "at least 1 vCPU and 1 MiB of memory")
        return await self._call(self._resize, vm_id, vcpus, memory_bytes)

    def _resize(self, vm_id: str, vcpus: int | None, memory_bytes: int | None) -> Resized:
        dom = self.domain(vm_id)
        active = bool(dom.isActive())
        now: list[str] = []
        later: list[str] = []
        if vcpus is not None:
            ceiling = dom.vcpusFlags(CONFIG | libvirt.VIR_DOMAIN_VCPU_MAXIMUM)
            if vcpus > ceiling:
                dom.setVcpusFlags(vcpus, CONFIG | libvirt.VIR_DOMAIN_VCPU_MAXIMUM)
                dom.setVcpusFlags(vcpus, CONFIG)
                later.append(f"{vcpus} vCPUs (above the maximum of {ceiling})")
            elif active:
                _live_and_config(dom.setVcpusFlags, vcpus)
                now.append(f"{vcpus} vCPUs")
            else:
                dom.setVcpusFlags(vcpus, CONFIG)
                later.append(f"{vcpus} vCPUs")
        if memory_bytes is not None:
            kib = memory_bytes // 1024
            ceiling_kib = dom.maxMemory()
            if kib > ceiling_kib:
                dom.setMemoryFlags(kib, CONFIG | libvirt.VIR_DOMAIN_MEM_MAXIMUM)
                dom.setMemoryFlags(kib, CONFIG)
                later.append(f"{_mib(memory_bytes)} (above the maximum of "
                             f"{_mib(ceiling_kib * 1024)})")
            elif active:
                _live_and_config(dom.setMemoryFlags, kib)
                now.append(_mib(memory_bytes))
            else:
                dom.setMemoryFlags(kib, CONFIG)
                later.append(_mib(memory_bytes))
        self._details.pop(dom.UUIDString(), None)  # its sizes are read from the XML again
        parts = []
        if now:
            parts.append(f"now: {', '.join(now)}")
        if later:
            when = "applied at next boot" if active else "applied when it starts"
            parts.append(f"{when}: {', '.join(later)}")
        return Resized(live=not later, note="; ".join(parts))

    async def grow_disk(self, vm_id: str, *, disk: str = "vda", size_bytes: int) -> Resized:
        """Enlarge a disk (never shrink: data would be lost). The guest-side step is named."""
        return await self._call(self._grow_disk, vm_id, disk, size_bytes)

    def _grow_disk(self, vm_id: str, disk: str, size_bytes: int) -> Resized:
        dom = self.domain(vm_id)
        path = self._disk_path(dom, disk)  # refuses a disk the VM does not have, by name
        current = dom.blockInfo(disk)[0]
        if size_bytes <= current:
            raise NovaError(Code.CONFIG_INVALID, f"{disk} of {dom.name()} is {_mib(current)}",
                            "a disk can only grow; give a larger size")
        guest = (f"inside the guest, grow the partition and file system (e.g. `growpart "
                 f"/dev/{disk} 1 && resize2fs /dev/{disk}1`)")
        if dom.isActive():
            dom.blockResize(disk, size_bytes, libvirt.VIR_DOMAIN_BLOCK_RESIZE_BYTES)
            return Resized(live=True, note=f"{disk} is now {_mib(size_bytes)}; {guest}")
        self.connection().storageVolLookupByPath(path).resize(size_bytes, 0)
        return Resized(live=False, note=f"{disk} is now {_mib(size_bytes)}; when it starts, {guest}")

    @staticmethod
    def _disk_path(dom: libvirt.virDomain, disk: str) -> str:
        """The file behind the disk `disk` (its target name); NOVA-1001 naming the VM's disks
        when it has none of that name."""
        names = []
        for element in ET.fromstring(dom.XMLDesc(0)).findall("./devices/disk[@device='disk']"):
            target = element.find("target")
            source = element.find("source")
            if target is None:
                continue
            names.append(target.get("dev", ""))
            if target.get("dev") == disk and source is not None and source.get("file"):
                return source.get("file", "")
        raise NovaError(Code.CONFIG_INVALID, f"disk {disk} of {dom.name()}",
                        f"it has no file-backed disk of that name (its disks: "
                        f"{', '.join(names) or 'none'})")
