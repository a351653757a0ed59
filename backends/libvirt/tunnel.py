"""The SSH transport for libvirt: the host's libvirt socket, forwarded over its SSH link.

libvirt opens `<driver>+unix:///<path>?socket=<local socket>`; the local socket (in a 0700
directory, removed on close) is forwarded by the host's one SSH connection, which also serves
migrations' own libvirt connections and the host facts. `uri` keeps meaning what it means for
a direct host — how peers reach this hypervisor (a peer-to-peer migration's target) — and
lends its driver and path (`qemu`, `/system`) to the tunnelled URI.

`local_uri` runs on a libvirt worker thread and blocks while the link connects; the SSH
connection itself is served on the SSH package's own loop, so no libvirt call can stall it.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from backends.base import HostFacts, HostLink
from console.errors import Code, NovaError

DEFAULT_SOCKET = "/var/run/libvirt/libvirt-sock"
FACTS_TIMEOUT_S = 5.0


def tunnelled_uri(uri: str, local_socket: str) -> str:
    """`qemu+tls://kvm-fra-01/system` → `qemu+unix:///system?socket=<local_socket>`."""
    parts = urlsplit(uri)
    driver = parts.scheme.split("+", 1)[0]
    if not driver:
        raise NovaError(Code.CONFIG_INVALID, f"uri {uri!r}", "no driver (qemu, test …) in the URI")
    return f"{driver}+unix://{parts.path or '/'}?socket={quote(local_socket, safe='/')}"


class SshTunnel:
    """`Transport` over a `HostLink`: libvirt reaches `remote_socket` on the host."""

    def __init__(self, link: HostLink, remote_socket: str = DEFAULT_SOCKET,
                 timeout_s: float = 10.0) -> None:
        self.link = link
        self.remote_socket = remote_socket
        self.timeout_s = timeout_s

    def local_uri(self, uri: str) -> str:
        return tunnelled_uri(uri, self.link.local_socket(self.remote_socket, self.timeout_s))

    async def host_facts(self) -> HostFacts | None:
        return await self.link.facts(min(self.timeout_s, FACTS_TIMEOUT_S))

    def close(self) -> None:
        self.link.close()
