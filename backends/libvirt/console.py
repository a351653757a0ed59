"""A shell on the host and a VM's serial console, for hosts reached over SSH.

Both are one more channel on the SSH connection the backend already holds (`HostLink`):
`virsh console` runs on the host against the libvirtd socket the backend itself tunnels, so
the console reaches exactly the daemon the inventory comes from. A host reached directly
(`qemu+tls://`, a local socket) has no such link: both say so in one line.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any

from backends.base import HostLink, RemoteTerminal
from console.errors import Code, NovaError

from .connect import Transport
from .tunnel import SshTunnel, tunnelled_uri

NOT_HERE = "not available for this source (it is not reached over SSH: transport = \"ssh\")"


class ConsoleMixin:
    """Mixed into `LibvirtBackend`; relies on its `_call`, `domain`, `transport`, `uri`."""

    name: str
    uri: str
    host_name: str
    transport: Transport
    _call: Callable[..., Any]
    domain: Callable[[str], Any]

    def host_link(self, host: str) -> HostLink | None:
        """The SSH link to `host` (this backend's one host, named as libvirt says or, before
        the first answer, as the source is), None when the host is reached directly."""
        if host not in (self.host_name, self.name):
            return None
        return self.transport.link

    async def open_console(self, vm_id: str, *, term: str, cols: int,
                           rows: int) -> RemoteTerminal:
        """`virsh console <uuid>` on the host, over its SSH link; ctrl-] leaves it."""
        link = self.transport.link
        if link is None or not isinstance(self.transport, SshTunnel):
            raise NovaError(Code.NOT_SUPPORTED, f"serial console of {vm_id}", NOT_HERE)
        uuid = await self._call(lambda: self.domain(vm_id).UUIDString())
        uri = tunnelled_uri(self.uri, self.transport.remote_socket)
        command = shlex.join(["virsh", "-c", uri, "console", uuid])
        return await link.open_terminal(command, term=term, cols=cols, rows=rows)
