"""An interactive remote process under a PTY (a login shell, `virsh console`), over a hop's
existing connection: one more channel on it, no new login and no ssh binary.

The process lives on the SSH loop; `SshTerminal`'s methods hop there (`loop.call`), so the
console's terminal pump can drive it from the app's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncssh

from console.errors import Code, NovaError

from .connection import SshHost
from .errors import translate
from .loop import call, ssh_loop

READ_SIZE = 65536
CLOSE_WAIT_S = 2.0


async def start(host: SshHost, command: str | None, term: str, cols: int,
                rows: int) -> Any:
    """The asyncssh process (SSH loop only): `command`, or the login shell, with a PTY."""
    conn = await host.connection()
    try:
        return await conn.create_process(
            command, term_type=term or "xterm", term_size=(max(cols, 1), max(rows, 1)),
            request_pty="force", encoding=None)
    except asyncssh.ChannelOpenError as exc:
        raise NovaError(Code.BACKEND_ERROR, f"terminal on {host.hop.alias}",
                        f"the server refused a session: {exc}") from exc
    except (asyncssh.Error, OSError) as exc:
        raise translate(exc, host.hop, host.jump.hop if host.jump else None) from exc


class SshTerminal:
    """`RemoteTerminal` over an asyncssh process."""

    def __init__(self, process: Any, where: str) -> None:
        self._process = process
        self.where = where

    async def _read(self) -> bytes:
        try:
            return bytes(await self._process.stdout.read(READ_SIZE))
        except (asyncssh.Error, OSError, asyncio.IncompleteReadError):
            return b""  # the connection went: the session is over

    async def read(self) -> bytes:
        return await call(self._read())

    async def _write(self, data: bytes) -> None:
        stdin = self._process.stdin
        if stdin.is_closing():
            return
        try:
            stdin.write(data)
            await stdin.drain()
        except (asyncssh.Error, OSError, BrokenPipeError):
            return  # it ended: the reader sees EOF and the session ends there

    async def write(self, data: bytes) -> None:
        await call(self._write(data))

    def resize(self, cols: int, rows: int) -> None:
        def change() -> None:
            with contextlib.suppress(asyncssh.Error, OSError):
                self._process.change_terminal_size(max(cols, 1), max(rows, 1))

        ssh_loop().call_soon_threadsafe(change)

    async def _close(self) -> int | None:
        process = self._process
        if process.exit_status is None:
            process.close()
            with contextlib.suppress(TimeoutError, asyncssh.Error, OSError):
                await asyncio.wait_for(process.wait_closed(), CLOSE_WAIT_S)
        return process.exit_status  # type: ignore[no-any-return]

    async def close(self) -> int | None:
        return await call(self._close())
