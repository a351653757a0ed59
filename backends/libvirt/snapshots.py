"""Snapshots of libvirt domains: the `SupportsSnapshots` half of `LibvirtBackend`.

Snapshot names and descriptions come back from the host, so they pass through
`sanitize.clean` here, like every other string entering from a backend. The XML we send is
built with escaping, so an operator-typed name cannot inject elements.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape

import libvirt

from console.errors import Code, NovaError
from console.models import Snapshot
from console.sanitize import clean

SNAPSHOT_CALL_S = 300.0
"""Taking or reverting a snapshot copies memory and disk state: far longer than a query."""


class SnapshotsMixin:
    """Mixed into `LibvirtBackend`; relies on its `_call` and `domain`."""

    _call: Callable[..., Any]
    domain: Callable[[str], libvirt.virDomain]

    async def snapshots(self, vm_id: str) -> list[Snapshot]:
        return await self._call(self._snapshots, vm_id)

    def _snapshots(self, vm_id: str) -> list[Snapshot]:
        dom = self.domain(vm_id)
        uuid = dom.UUIDString()
        found = [snapshot_from_xml(s.getXMLDesc(0), uuid, bool(s.isCurrent()))
                 for s in dom.listAllSnapshots(0)]
        return sorted(found, key=lambda s: (s.created_at, s.name))

    async def create_snapshot(self, vm_id: str, name: str, description: str = "") -> None:
        await self._call(self._create, vm_id, name, description, timeout_s=SNAPSHOT_CALL_S)

    def _create(self, vm_id: str, name: str, description: str) -> None:
        if not name or clean(name) != name or "/" in name:
            raise NovaError(Code.INVALID_STATE, repr(name), "snapshot names must be printable, "
                            "non-empty and without '/'")
        dom = self.domain(vm_id)
        xml = (f"<domainsnapshot><name>{escape(name)}</name>"
               f"<description>{escape(description)}</description></domainsnapshot>")
        dom.snapshotCreateXML(xml, 0)

    async def revert_snapshot(self, vm_id: str, name: str) -> None:
        await self._call(self._revert, vm_id, name, timeout_s=SNAPSHOT_CALL_S)

    def _revert(self, vm_id: str, name: str) -> None:
        dom = self.domain(vm_id)
        dom.revertToSnapshot(self._lookup(dom, name), 0)

    async def delete_snapshot(self, vm_id: str, name: str) -> None:
        await self._call(self._delete_snapshot, vm_id, name, timeout_s=SNAPSHOT_CALL_S)

    def _delete_snapshot(self, vm_id: str, name: str) -> None:
        dom = self.domain(vm_id)
        self._lookup(dom, name).delete(0)

    @staticmethod
    def _lookup(dom: libvirt.virDomain, name: str) -> libvirt.virDomainSnapshot:
        try:
            return dom.snapshotLookupByName(name, 0)
        except libvirt.libvirtError as err:
            if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT:
                raise NovaError(Code.VM_NOT_FOUND, f"no snapshot {name!r} of {dom.name()}",
                                err.get_error_message()) from err
            raise


def snapshot_from_xml(xml: str, vm_id: str, current: bool) -> Snapshot:
    """Parse `virDomainSnapshotGetXMLDesc` into a model (strings sanitized)."""
    root = ET.fromstring(xml)
    created = (root.findtext("creationTime") or "0").strip()
    return Snapshot(
        name=clean(root.findtext("name") or ""),
        vm_id=vm_id,
        created_at=float(created) if created.isdigit() else 0.0,
        state=clean(root.findtext("state") or ""),
        description=clean(root.findtext("description") or "", max_len=1024),
        current=current,
    )
