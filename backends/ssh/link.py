"""`SshLink`: the `HostLink` the libvirt kind gets for `transport = "ssh"`.

Callers live on other threads and loops (libvirt worker threads, the app's loop); every call
hops onto the SSH loop, where the process-wide pool keeps one connection per hop.
"""

from __future__ import annotations

import asyncio

from backends.base import HostFacts, RefusedKey, RemoteTerminal
from console.errors import Code, NovaError

from .connection import POOL, SshHost
from .hostkeys import trust
from .loop import call, call_blocking, submit
from .sshconfig import config_paths
from .terminal import SshTerminal, start


class SshLink:
    """A host reached over SSH by its ssh config alias, through whatever jump hosts the
    config names. No I/O until first use."""

    kind = "ssh"

    def __init__(self, host: str, *, config_path: str | None = None, timeout_s: float = 10.0) -> None:
        self.name = host
        self.config_path = config_path
        self.timeout_s = timeout_s
        self._host: SshHost | None = None
        self._closed = False

    @property
    def connected(self) -> bool:
        """Whether the SSH connection to the host is up now (a snapshot, from any thread)."""
        host = self._host
        return host is not None and host.connected

    def _entry(self) -> SshHost:
        """This link's hop in the pool (SSH loop only); reads the config on first use."""
        if self._closed:
            raise NovaError(Code.HOST_UNREACHABLE, self.name, "the SSH link was closed")
        if self._host is None:
            self._host = POOL.acquire(self.name, config_paths(self.config_path), self.timeout_s)
        return self._host

    async def _connection(self) -> SshHost:
        host = self._entry()
        await host.connection()
        return host

    async def connect(self) -> None:
        """Connect now (every hop), or raise what went wrong."""
        await call(asyncio.wait_for(self._connection(), self.timeout_s))

    async def _local_socket(self, remote_path: str) -> str:
        return await self._entry().local_socket(remote_path)

    def local_socket(self, remote_path: str, timeout_s: float) -> str:
        return call_blocking(self._local_socket(remote_path), timeout_s, f"ssh to {self.name}")

    async def _facts(self) -> HostFacts | None:
        return await self._entry().facts()

    async def facts(self, timeout_s: float) -> HostFacts | None:
        try:
            return await call(asyncio.wait_for(self._facts(), timeout_s))
        except TimeoutError as exc:
            raise NovaError(Code.TIMEOUT, f"host facts of {self.name}",
                            f"no answer within {timeout_s:g} s") from exc

    def refused_key(self) -> RefusedKey | None:
        """The host key refused on the way to this host (on any hop), for the operator to
        see and, when it is unknown, accept (a snapshot, from any thread)."""
        host = self._host
        hop = host.refusal() if host is not None else None
        check = hop.refused if hop is not None else None
        if hop is None or check is None or check.verdict is None:
            return None
        return RefusedKey(host=self.name, hop=hop.hop.alias,
                          address=f"{hop.hop.hostname} port {hop.hop.port}",
                          fingerprint=check.offered or "", verdict=check.verdict.message,
                          on_file=tuple(k.fingerprint for k in check.on_file),
                          key_type=check.offered_key.get_algorithm() if check.offered_key else "",
                          known_hosts=str(hop.hop.known_hosts[0]) if hop.hop.known_hosts else "")

    async def _accept(self, fingerprint: str) -> str:
        host = self._entry()
        hop = host.refusal()
        if hop is None or hop.refused is None:
            raise NovaError(Code.NOT_CONFIRMED, self.name, "no host key was refused on the way")
        written = trust(hop.hop, hop.refused, fingerprint)
        hop.refused = None
        host.retry_now()
        return str(written)

    async def accept_key(self, fingerprint: str) -> str:
        """Trust the unknown key refused on the way to this host, once the operator typed its
        fingerprint; returns the known_hosts file written. Changed/revoked keys: refused."""
        return await call(self._accept(fingerprint))

    async def open_terminal(self, command: str | None, *, term: str, cols: int,
                            rows: int) -> RemoteTerminal:
        """A shell (or `command`) under a PTY, as one more channel on the host's connection."""
        async def opened() -> SshTerminal:
            process = await start(self._entry(), command, term, cols, rows)
            return SshTerminal(process, self.name)

        try:
            return await call(asyncio.wait_for(opened(), self.timeout_s))
        except TimeoutError as exc:
            raise NovaError(Code.TIMEOUT, f"terminal on {self.name}",
                            f"no session within {self.timeout_s:g} s") from exc

    async def _close(self) -> None:
        host, self._host = self._host, None
        if host is not None:
            host.release()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        submit(self._close())
