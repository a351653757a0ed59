"""One SSH connection per hop, shared by everything that goes through it, reopened on demand.

`SshHost` is a hop of a chain (a bastion, a hypervisor): it opens its connection through its
jump host's (opened first, by the same code, so the same known_hosts and keepalive policy
apply to every hop), forwards unix sockets over it, and reads files with SFTP. When the
connection drops (keepalive, EOF), the next use reconnects; after a failure, further attempts
wait with exponential backoff and meanwhile fail at once with the last error, so a dead host
is not hammered and never holds anyone up. Lives on the SSH loop (`loop.py`) only.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import itertools
import logging
import os
import random
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh

from backends.base import HostFacts
from console.errors import NovaError

from . import facts as host_facts
from .errors import translate
from .hostkeys import HostKeyCheck
from .sshconfig import Hop, chain

log = logging.getLogger(__name__)

BACKOFF_BASE_S = 1.0
BACKOFF_MAX_S = 30.0

_sockets_dir: Path | None = None
_socket_numbers = itertools.count(1)


def sockets_dir() -> Path:
    """A 0700 directory for forwarded sockets: whoever can connect to a forwarded libvirt
    socket drives libvirtd as root. Removed at exit (each socket is removed on close)."""
    global _sockets_dir
    if _sockets_dir is None or not _sockets_dir.is_dir():
        runtime = os.environ.get("XDG_RUNTIME_DIR")
        base = runtime if runtime and Path(runtime).is_dir() else None
        made = Path(tempfile.mkdtemp(prefix="novacron-ssh-", dir=base))
        os.chmod(made, 0o700)
        atexit.register(shutil.rmtree, made, True)
        _sockets_dir = made
    return _sockets_dir


def backoff_s(failures: int) -> float:
    """Wait before attempt `failures + 1`: 1, 2, 4 … 30 s, with jitter so hosts behind one
    bastion do not all retry at the same instant."""
    return min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** max(0, failures - 1)) * random.uniform(0.8, 1.0)


class _Client(asyncssh.SSHClient):
    """Sees the offered host key (and refuses it: trusted keys never reach this hook), and
    tells its hop when the connection is gone."""

    def __init__(self, check: HostKeyCheck, on_lost: Callable[[Any], None]) -> None:
        self._check = check
        self._on_lost = on_lost
        self._conn: Any = None

    def connection_made(self, conn: asyncssh.SSHClientConnection) -> None:
        self._conn = conn

    def connection_lost(self, exc: Exception | None) -> None:
        self._on_lost(self._conn)

    def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        return self._check.refuse(key)


@dataclass
class _Forward:
    conn: Any
    listener: Any
    path: Path

    def remove(self) -> None:
        self.listener.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class SshHost:
    """One hop, its connection, the sockets forwarded over it and its SFTP session."""

    def __init__(self, pool: Pool, key: tuple[Any, ...], hop: Hop, paths: list[Path],
                 jump: SshHost | None) -> None:
        self.pool = pool
        self.key = key
        self.hop = hop
        self.paths = paths
        self.jump = jump
        self.refs = 0
        self._conn: asyncssh.SSHClientConnection | None = None
        self._lock = asyncio.Lock()
        self._forward_lock = asyncio.Lock()
        self._forwards: dict[str, _Forward] = {}
        self._sftp: Any = None
        self._sftp_conn: Any = None
        self._no_sftp: Any = None
        """The connection whose server refused SFTP (asked again after a reconnect)."""
        self._handles: dict[str, Any] = {}
        """/proc files kept open: a re-read at offset 0 regenerates them, so a poll's facts
        cost one round trip (three reads in flight) instead of open, read, close each."""
        self._failures = 0
        self._retry_at = 0.0
        self._error: NovaError | None = None
        self.refused: HostKeyCheck | None = None
        """The last refused host key of this hop (cleared by a successful connect)."""

    @property
    def connected(self) -> bool:
        return self._conn is not None

    async def connection(self) -> asyncssh.SSHClientConnection:
        """The open connection; connects (jump hosts first) when there is none."""
        if self._conn is not None:
            return self._conn
        async with self._lock:
            if self._conn is not None:
                return self._conn
            loop = asyncio.get_running_loop()
            if self._error is not None and loop.time() < self._retry_at:
                raise self._error  # backing off: fail at once with what the last try said
            try:
                conn = await self._connect()
            except NovaError as err:
                self._failures += 1
                self._retry_at = loop.time() + backoff_s(self._failures)
                self._error = err
                raise
            self._failures, self._error, self.refused = 0, None, None
            self._conn = conn
            return conn

    def retry_now(self) -> None:
        """Forget the backoff (after the operator fixed something: an accepted key)."""
        self._retry_at = 0.0
        if self.jump is not None:
            self.jump.retry_now()

    def refusal(self) -> SshHost | None:
        """The hop on the way here (this one or a jump host) whose key was refused last."""
        hop: SshHost | None = self
        while hop is not None:
            if hop.refused is not None:
                return hop
            hop = hop.jump
        return None

    async def _connect(self) -> asyncssh.SSHClientConnection:
        hop = self.hop
        tunnel = await self.jump.connection() if self.jump is not None else None
        check = HostKeyCheck(hop)
        options: dict[str, Any] = {
            "port": hop.port, "config": [str(p) for p in self.paths], "tunnel": tunnel,
            "proxy_command": None, "known_hosts": check,
            "client_factory": lambda: _Client(check, self._lost),
            "keepalive_interval": hop.keepalive_interval_s,
            "keepalive_count_max": hop.keepalive_count,
            "connect_timeout": hop.connect_timeout_s,
        }
        if hop.user:
            options["username"] = hop.user
        try:
            return await asyncssh.connect(hop.alias, **options)
        except asyncssh.HostKeyNotVerifiable as exc:
            self.refused = check
            raise check.error(exc) from exc
        except (asyncssh.Error, OSError, ValueError, TimeoutError) as exc:
            raise translate(exc, hop, self.jump.hop if self.jump else None) from exc

    def _lost(self, conn: Any) -> None:
        if conn is None or conn is not self._conn:
            return
        log.info("ssh connection lost", extra={"host": self.hop.alias})
        self._conn = None
        self._drop_forwards()

    def _drop_forwards(self) -> None:
        for forward in self._forwards.values():
            forward.remove()
        self._forwards.clear()
        self._sftp = self._sftp_conn = None
        self._handles = {}

    async def local_socket(self, remote_path: str) -> str:
        """A local socket (in the 0700 directory) forwarded to `remote_path` on this hop."""
        conn = await self.connection()
        async with self._forward_lock:
            forward = self._forwards.get(remote_path)
            if forward is not None and forward.conn is conn:
                return str(forward.path)
            if forward is not None:
                forward.remove()
            path = sockets_dir() / f"{next(_socket_numbers)}.sock"
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            try:
                listener = await conn.forward_local_path(str(path), remote_path)
            except (asyncssh.Error, OSError) as exc:
                raise translate(exc, self.hop, self.jump.hop if self.jump else None) from exc
            self._forwards[remote_path] = _Forward(conn, listener, path)
            return str(path)

    async def facts(self) -> HostFacts | None:
        """Load, memory and uptime from /proc over SFTP; None when SFTP is not served."""
        conn = await self.connection()
        if self._no_sftp is conn:
            return None
        if self._sftp is None or self._sftp_conn is not conn:
            try:
                self._sftp, self._sftp_conn = await conn.start_sftp_client(), conn
                self._handles = {}
            except asyncssh.Error as exc:  # no sftp subsystem: no facts, not an outage
                log.info("no SFTP, no host facts: %s", exc, extra={"host": self.hop.alias})
                self._no_sftp = conn
                return None
        try:
            contents = await asyncio.gather(*(self._read(path) for path in host_facts.FILES))
        except (asyncssh.Error, OSError) as exc:
            self._sftp, self._handles = None, {}
            raise translate(exc, self.hop, self.jump.hop if self.jump else None) from exc
        try:
            return host_facts.parse(*contents)
        except ValueError as exc:
            log.warning("host facts unreadable: %s", exc, extra={"host": self.hop.alias})
            return None

    async def _read(self, path: str) -> bytes:
        handle = self._handles.get(path)
        if handle is None:
            handle = self._handles[path] = await self._sftp.open(path, "rb")
        return bytes(await handle.read(host_facts.READ_SIZE, 0))

    def release(self) -> None:
        """One user fewer; the last one closes the connection and releases the jump host."""
        self.refs -= 1
        if self.refs > 0:
            return
        self.pool.forget(self)
        self._drop_forwards()
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        if self.jump is not None:
            self.jump.release()


class Pool:
    """Every hop in use in this process, by (config files, chain of hops): two hypervisors
    behind one bastion share one connection to it."""

    def __init__(self) -> None:
        self.hops: dict[tuple[Any, ...], SshHost] = {}

    def acquire(self, spec: str, paths: list[Path], timeout_s: float | None) -> SshHost:
        """The hop for `spec` (and its jump hosts), one reference taken. Reads the config:
        a config that switches host key checking off is refused here."""
        hops = chain(spec, paths, timeout_s)
        jump: SshHost | None = None
        names: tuple[str, ...] = ()
        for hop in hops:
            names += (hop.spec,)
            key = (tuple(str(p) for p in paths), names)
            entry = self.hops.get(key)
            if entry is None:
                entry = SshHost(self, key, hop, paths, jump)
                if jump is not None:
                    jump.refs += 1
                self.hops[key] = entry
            jump = entry
        assert jump is not None
        jump.refs += 1
        return jump

    def forget(self, host: SshHost) -> None:
        if self.hops.get(host.key) is host:
            del self.hops[host.key]


POOL = Pool()
"""The process's SSH hops (used on the SSH loop only)."""
