"""Lifecycle actions on libvirt domains: the `SupportsPower` half of `LibvirtBackend`.

Only the action dispatcher calls these (it is the one door to mutating calls). Each blocking
libvirt call runs through the backend's `_call` (own threads, timeout, NovaError mapping).
State preconditions are checked first so the operator reads "already shut off" rather than
libvirt's internal-error wording, and a graceful shutdown is polled to completion so "done"
means the VM really is off.
"""

from __future__ import annotations

import asyncio
import os
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import libvirt

from console.errors import Code, NovaError

T = TypeVar("T")

SHUTDOWN_POLL_S = 0.5
UNDEFINE_FLAGS = (
    libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
    | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
    | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM
    | libvirt.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA
)
"""Remove everything libvirt keeps about the domain, so a later define starts clean."""
UNDEFINE_FALLBACK_FLAGS = (
    libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
)
"""For drivers (the test driver, old hosts) that reject the NVRAM/checkpoint flags."""
SLOW_CALL_S = 120.0


class PowerMixin:
    """Mixed into `LibvirtBackend`; relies on its `_call`, `domain`, `connection`, `name`, `uri`."""

    name: str
    uri: str
    _call: Callable[..., Any]
    domain: Callable[[str], libvirt.virDomain]
    connection: Callable[[], libvirt.virConnect]

    async def start(self, vm_id: str) -> None:
        await self._call(self._start, vm_id)

    def _start(self, vm_id: str) -> None:
        dom = self.domain(vm_id)
        if dom.isActive():
            raise NovaError(Code.INVALID_STATE, dom.name(), "already running")
        dom.create()

    async def shutdown(self, vm_id: str, timeout_s: float = 60.0) -> None:
        """ACPI shutdown, then wait for SHUTOFF; TIMEOUT if the guest ignores it."""
        dom = await self._call(self._shutdown, vm_id)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not await self._call(self._active, dom):
                return
            await asyncio.sleep(SHUTDOWN_POLL_S)
        raise NovaError(Code.TIMEOUT, f"{dom.name()} is still running after {timeout_s:g} s",
                        "the guest did not act on the shutdown request; force-off is available")

    def _shutdown(self, vm_id: str) -> libvirt.virDomain:
        dom = self.domain(vm_id)
        if not dom.isActive():
            raise NovaError(Code.INVALID_STATE, dom.name(), "already shut off")
        dom.shutdown()
        return dom

    @staticmethod
    def _active(dom: libvirt.virDomain) -> bool:
        try:
            return bool(dom.isActive())
        except libvirt.libvirtError as err:
            if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return False  # a transient domain disappears when it stops
            raise

    async def reboot(self, vm_id: str) -> None:
        await self._call(self._running_then, vm_id, lambda d: d.reboot(0))

    async def force_off(self, vm_id: str) -> None:
        await self._call(self._running_then, vm_id, lambda d: d.destroy())

    async def suspend(self, vm_id: str) -> None:
        await self._call(self._running_then, vm_id, lambda d: d.suspend())

    async def resume(self, vm_id: str) -> None:
        await self._call(self._resume, vm_id)

    def _running_then(self, vm_id: str, fn: Callable[[libvirt.virDomain], object]) -> None:
        dom = self.domain(vm_id)
        if not dom.isActive():
            raise NovaError(Code.INVALID_STATE, dom.name(), "not running")
        fn(dom)

    def _resume(self, vm_id: str) -> None:
        dom = self.domain(vm_id)
        state = dom.state()[0]
        if state == libvirt.VIR_DOMAIN_PMSUSPENDED:
            dom.pMWakeup(0)
        elif state == libvirt.VIR_DOMAIN_PAUSED:
            dom.resume()
        else:
            raise NovaError(Code.INVALID_STATE, dom.name(), "not suspended")

    async def delete(self, vm_id: str, remove_storage: bool = False) -> list[str]:
        """Stop (if running) and undefine; with `remove_storage`, delete its disks too.

        Returns the disk paths that could not be removed (not a libvirt volume on a remote
        host, say), so the caller can tell the operator instead of pretending.
        """
        return await self._call(self._delete, vm_id, remove_storage, timeout_s=SLOW_CALL_S)

    def _delete(self, vm_id: str, remove_storage: bool) -> list[str]:
        dom = self.domain(vm_id)
        disks = disk_paths(dom.XMLDesc(0)) if remove_storage else []
        persistent = dom.isPersistent()
        if dom.isActive():
            dom.destroy()
        if not persistent:
            return self._remove(disks)  # destroying a transient domain is deleting it
        try:
            dom.undefineFlags(UNDEFINE_FLAGS)
        except libvirt.libvirtError as err:
            if err.get_error_code() not in (libvirt.VIR_ERR_INVALID_ARG, libvirt.VIR_ERR_NO_SUPPORT):
                raise
            dom.undefineFlags(UNDEFINE_FALLBACK_FLAGS)
        return self._remove(disks)

    def _remove(self, paths: list[str]) -> list[str]:
        conn = self.connection()
        local_files = not urlsplit(self.uri).hostname and conn.getType().lower() != "test"
        kept: list[str] = []
        for path in paths:
            try:
                conn.storageVolLookupByPath(path).delete(0)
                continue
            except libvirt.libvirtError:
                pass
            if local_files and os.path.isfile(path):
                os.remove(path)
            else:
                kept.append(path)
        return kept


def disk_paths(xml: str) -> list[str]:
    """Source paths of the domain's disks (not CD-ROMs: an ISO is shared, never ours)."""
    root = ET.fromstring(xml)
    paths = []
    for disk in root.findall("./devices/disk"):
        if disk.get("device", "disk") != "disk":
            continue
        source = disk.find("source")
        if source is not None and (path := source.get("file") or source.get("dev")):
            paths.append(path)
    return paths
