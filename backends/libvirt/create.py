"""Making a VM on a libvirt host: the `SupportsCreate` half of `LibvirtBackend`.

A saga of steps, each reported to the console (`backends.base.report_step`, which the audit
records): look for the request id → check the name is free → make the disk volume in the
template's storage pool (a qcow2 overlay on the base image, or a full copy) → define the
domain → start it. A failure at any step undoes the steps already done, newest first: the
domain is undefined and the volume deleted. Nothing is undone that this call did not make
(a clashing domain or volume someone else made stays).

Idempotency: the request id goes into the domain's metadata, and the first step looks for a
domain carrying it, so the same request twice makes one VM.
"""

from __future__ import annotations

import uuid as uuidlib
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from typing import Any

import libvirt

from backends.base import NewVM, Saga, report_step
from console.errors import Code, NovaError
from console.models import VM

from .new_domain import REQUEST_NS, domain_xml, volume_xml

SLOW_CALL_S = 120.0
"""Copying a base image (`full_copy`) or starting QEMU on a loaded host can be slow."""


class CreateMixin:
    """Mixed into `LibvirtBackend`; relies on its `_call`, `connection`, `_read_vms`, `name`."""

    name: str
    _call: Callable[..., Any]
    connection: Callable[[], libvirt.virConnect]
    _read_vms: Callable[[], list[VM]]

    async def create_vm(self, spec: NewVM) -> VM:
        if spec.request_id:
            found = await self._call(self._made_by, spec.request_id)
            if found is not None:
                await report_step("request", "ok", f"{spec.request_id}: already made as {found}")
                return await self._listed(found)
        template = dict(spec.template)
        async with Saga() as saga:
            await saga.step("name", spec.name, lambda: self._call(self._name_free, spec.name))
            volume = await saga.step(
                "volume", f"{template.get('pool')}/{spec.name}.qcow2",
                lambda: self._call(self._make_volume, spec, template, timeout_s=SLOW_CALL_S),
                undo=lambda vol: self._call(self._delete_volume, vol))
            uuid = str(uuidlib.uuid4())
            xml = domain_xml(name=spec.name, uuid=uuid, vcpus=spec.vcpus,
                             memory_bytes=spec.memory_bytes, disk_path=volume[1],
                             template=template, tags=spec.tags, request_id=spec.request_id)
            await saga.step("define", f"{spec.name} ({uuid})",
                            lambda: self._call(self._define, xml),
                            undo=lambda _: self._call(self._undefine, uuid))
            await saga.step("start", spec.name,
                            lambda: self._call(self._start_new, uuid, timeout_s=SLOW_CALL_S),
                            undo=lambda _: self._call(self._destroy, uuid))
        return await self._listed(uuid)

    async def _listed(self, uuid: str) -> VM:
        vms: Sequence[VM] = await self._call(self._read_vms)
        for vm in vms:
            if vm.id == uuid:
                return vm
        raise NovaError(Code.VM_NOT_FOUND, uuid, "made, but no longer listed by the host")

    # -- the steps (worker threads) ---------------------------------------------------------

    def _made_by(self, request_id: str) -> str | None:
        """UUID of the domain this request already made, if any."""
        for dom in self.connection().listAllDomains():
            try:
                text = dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, REQUEST_NS)
            except libvirt.libvirtError:
                continue
            if (ET.fromstring(text).text or "").strip() == request_id:
                return str(dom.UUIDString())
        return None

    def _name_free(self, name: str) -> None:
        try:
            self.connection().lookupByName(name)
        except libvirt.libvirtError:
            return
        raise NovaError(Code.NAME_TAKEN, f"{name} on {self.name}",
                        "choose another name (or delete the VM that has it)")

    def _make_volume(self, spec: NewVM, template: dict[str, Any]) -> tuple[str, str]:
        """(pool name/volume name, path) of the new disk."""
        conn = self.connection()
        try:
            pool = conn.storagePoolLookupByName(template["pool"])
        except libvirt.libvirtError as err:
            raise NovaError(Code.CONFIG_INVALID, f"storage pool {template['pool']!r} on {self.name}",
                            "the template names a pool this host does not have") from err
        pool.refresh(0)  # a shared directory: other hosts may have added or removed files
        try:
            base = pool.storageVolLookupByName(template["base_volume"])
        except libvirt.libvirtError as err:
            raise NovaError(Code.CONFIG_INVALID,
                            f"base image {template['base_volume']!r} in pool {template['pool']!r}",
                            "the template's base_volume is not in that pool") from err
        capacity = max(spec.disk_bytes, int(base.info()[1]))
        name = f"{spec.name}.qcow2"
        try:
            pool.storageVolLookupByName(name)
        except libvirt.libvirtError:
            pass
        else:
            raise NovaError(Code.NAME_TAKEN, f"volume {name} in pool {template['pool']}",
                            "a disk with this VM's name exists already; remove it or rename")
        if template.get("full_copy"):
            vol = pool.createXMLFrom(volume_xml(name, capacity, None), base, 0)
        else:
            vol = pool.createXML(volume_xml(name, capacity, base.path()), 0)
        return f"{template['pool']}/{name}", vol.path()

    def _delete_volume(self, volume: tuple[str, str]) -> None:
        pool_name, _, vol_name = volume[0].partition("/")
        pool = self.connection().storagePoolLookupByName(pool_name)
        pool.refresh(0)
        pool.storageVolLookupByName(vol_name).delete(0)

    def _define(self, xml: str) -> None:
        conn = self.connection()
        try:
            conn.defineXML(xml)
        except libvirt.libvirtError as err:
            name = ET.fromstring(xml).findtext("name") or ""
            try:
                conn.lookupByName(name)
            except libvirt.libvirtError:
                raise err from None
            raise NovaError(Code.NAME_TAKEN, f"{name} on {self.name}",
                            "another VM took the name meanwhile; choose another name") from err

    def _undefine(self, uuid: str) -> None:
        self.connection().lookupByUUIDString(uuid).undefine()

    def _start_new(self, uuid: str) -> None:
        self.connection().lookupByUUIDString(uuid).create()

    def _destroy(self, uuid: str) -> None:
        dom = self.connection().lookupByUUIDString(uuid)
        if dom.isActive():
            dom.destroy()
