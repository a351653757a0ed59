"""Act on the VMs of a Prometheus inventory: connect to a VM's host only to act on it.

At scale the inventory comes from Prometheus (the libvirt exporters' series), which can list
100,000 VMs but cannot start or stop one. `HostActions` wraps such an inventory backend: it
polls exactly as the inventory does (`hosts()` and `vms()` delegate, untouched) and remembers
from each `vms()` answer which host every VM is on. A lifecycle or snapshot action opens a
libvirt backend for that host, from the URI the config gives for it (`host_uris`, else the
`host_uri` template), and keeps it for the next action; `close()` closes them all.

The dispatcher does not know it is talking to a wrapper: `HostActions` satisfies
`SupportsPower` and `SupportsSnapshots` because it really delegates every one of their
methods. It does not implement `SupportsMigration`: migrating a VM of a Prometheus inventory
needs both ends as backends of the context (a migration's target is a `Backend`), which is out
of scope here; configure the hosts as libvirt sources to migrate between them.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from backends import registry
from backends.base import Backend
from console.errors import Code, NovaError
from console.models import VM, Host, Snapshot


class HostUris(Protocol):
    """What HostActions reads of its Prometheus source's config (`PrometheusSource`)."""

    @property
    def name(self) -> str: ...
    @property
    def host_uris(self) -> Mapping[str, str]: ...

    def libvirt_uri(self, host: str) -> str | None: ...

_SAFE_HOST = re.compile(r"^[A-Za-z0-9._:\[\]-]+$")
"""What a host label value may be to go into a URI template: a hostname, an IP, host:port."""


class HostActions:
    """An inventory backend that can also act on its VMs, through libvirt on each VM's host."""

    def __init__(self, inventory: Backend, source: HostUris, *, read_only: bool) -> None:
        self.inventory = inventory
        self.name = inventory.name
        self.kind = inventory.kind
        self.source = source
        self.read_only = read_only
        """The context's flag: in a read-only context the host connections open read-only too
        (the dispatcher refuses first anyway)."""
        self._host_of: dict[str, str] = {}
        self._libvirt: dict[str, Any] = {}

    # -- Backend: the inventory, as it is ---------------------------------------------------

    async def hosts(self) -> Sequence[Host]:
        return await self.inventory.hosts()

    async def vms(self) -> Sequence[VM]:
        """The inventory's VMs; remembers each one's host. A VM that leaves the answer keeps
        its last host: the exporter does not list shut-off domains, and they can be started."""
        vms = await self.inventory.vms()
        self._host_of.update((vm.id, vm.host) for vm in vms)
        return vms

    async def close(self) -> None:
        opened, self._libvirt = list(self._libvirt.values()), {}
        await asyncio.gather(*(b.close() for b in opened), return_exceptions=True)
        await self.inventory.close()

    # -- the host a VM is on ----------------------------------------------------------------

    def host_of(self, vm_id: str) -> str | None:
        """The host the last inventory answer put `vm_id` on."""
        return self._host_of.get(vm_id)

    def uri_for(self, host: str) -> str:
        """The libvirt URI for `host`, or a NOT_SUPPORTED error naming the keys to set."""
        keys = (f"set host_uris.{host} (or a host_uri template with {{host}}) on the "
                f"prometheus source {self.source.name!r}")
        uri = self.source.libvirt_uri(host)
        if uri is None:
            raise NovaError(Code.NOT_SUPPORTED, f"host {host!r} has no libvirt URI", keys)
        if host not in self.source.host_uris and not _SAFE_HOST.match(host):
            raise NovaError(Code.URI_REFUSED, f"host {host!r} does not fit in host_uri",
                            f"its name has characters a URI would misread; {keys}")
        return uri

    def _host_backend(self, vm_id: str) -> Any:
        """The libvirt backend of `vm_id`'s host, opened on first use (no await: two actions
        racing here share one backend)."""
        host = self.host_of(vm_id)
        if host is None:
            raise NovaError(Code.VM_NOT_FOUND, vm_id,
                            f"not in the last inventory of {self.name!r}; wait for a poll")
        backend = self._libvirt.get(host)
        if backend is None:
            libvirt = registry.kind("libvirt")
            config = libvirt.config.model_validate({
                "kind": "libvirt", "name": f"{self.name}/{host}", "uri": self.uri_for(host),
                "host_name": host})
            backend = libvirt.open(config, read_only=self.read_only)
            self._libvirt[host] = backend
        return backend

    # -- SupportsPower ----------------------------------------------------------------------

    async def start(self, vm_id: str) -> None:
        await self._host_backend(vm_id).start(vm_id)

    async def shutdown(self, vm_id: str, timeout_s: float = 60.0) -> None:
        await self._host_backend(vm_id).shutdown(vm_id, timeout_s)

    async def reboot(self, vm_id: str) -> None:
        await self._host_backend(vm_id).reboot(vm_id)

    async def force_off(self, vm_id: str) -> None:
        await self._host_backend(vm_id).force_off(vm_id)

    async def suspend(self, vm_id: str) -> None:
        await self._host_backend(vm_id).suspend(vm_id)

    async def resume(self, vm_id: str) -> None:
        await self._host_backend(vm_id).resume(vm_id)

    async def delete(self, vm_id: str, remove_storage: bool = False) -> Sequence[str]:
        return await self._host_backend(vm_id).delete(vm_id, remove_storage)

    # -- SupportsSnapshots ------------------------------------------------------------------

    async def snapshots(self, vm_id: str) -> Sequence[Snapshot]:
        return await self._host_backend(vm_id).snapshots(vm_id)

    async def create_snapshot(self, vm_id: str, name: str, description: str = "") -> None:
        await self._host_backend(vm_id).create_snapshot(vm_id, name, description)

    async def revert_snapshot(self, vm_id: str, name: str) -> None:
        await self._host_backend(vm_id).revert_snapshot(vm_id, name)

    async def delete_snapshot(self, vm_id: str, name: str) -> None:
        await self._host_backend(vm_id).delete_snapshot(vm_id, name)
