"""The one place a libvirt connection is opened, whatever carries it.

A `Transport` says how the host is reached: `DirectTransport` hands libvirt the URI as it is
(local socket, `qemu+tcp://`, `qemu+tls://`); a tunnel (the SSH transport) first makes the
host's socket reachable locally and then gives libvirt a `qemu+unix://` URI. Every opener
(the backend's own connection, a migration's private one, the destination of an unmanaged
migration) goes through `open_connection`, so a transport plugs in here once.

Runs on a worker thread: opening blocks.
"""

from __future__ import annotations

from typing import Protocol

import libvirt

from backends.base import HostFacts, HostLink

from .uri import check_uri


class Transport(Protocol):
    """How a libvirt URI is reached. `local_uri` may block (it runs on a worker thread)."""

    @property
    def link(self) -> HostLink | None:
        """The link the host is reached over (SSH), which also serves shells and consoles."""
        ...

    def local_uri(self, uri: str) -> str:
        """The URI libvirt should open for `uri` (the same one, or a tunnel's local end)."""
        ...

    async def host_facts(self) -> HostFacts | None:
        """What the way in can tell about the host besides libvirt (SSH: /proc); None."""
        ...

    def close(self) -> None:
        """Release whatever `local_uri` set up."""
        ...


class DirectTransport:
    """libvirt's own transports: the URI is opened as it is."""

    link = None

    def local_uri(self, uri: str) -> str:
        return uri

    async def host_facts(self) -> HostFacts | None:
        return None

    def close(self) -> None:
        return None


DIRECT = DirectTransport()


def open_connection(uri: str, *, read_only: bool = False,
                    transport: Transport = DIRECT) -> libvirt.virConnect:
    """Open `uri` through `transport`, read-only when asked (the API refuses every mutating
    call on such a connection, whatever the console's own checks do)."""
    check_uri(uri)
    local = transport.local_uri(uri)
    opener = libvirt.openReadOnly if read_only else libvirt.open
    return opener(local)
