"""Hand the local terminal to a remote process: raw mode, bytes both ways, window size.

`pump` runs on the caller's event loop (the app's, suspended meanwhile): keystrokes are read
from the local tty as they come (`add_reader`, never a blocking read on the loop) and written
to the remote process; its output is written to the local tty; SIGWINCH resizes the remote
PTY. It returns when the remote side ends (EOF) or, when an escape byte is given (ctrl-] for
a serial console), when the operator types it; the tty's modes are restored either way.

Knows nothing of Textual or SSH: anything with the `RemoteTerminal` shape will do.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import struct
import termios
import threading
import tty
from typing import Literal, Protocol

CTRL_RIGHT_BRACKET = b"\x1d"
"""ctrl-]: what telnet, `virsh console` and ssh's escape teach operators for "get me out"."""
READ_SIZE = 4096

Ended = Literal["exited", "escaped"]


class Terminal(Protocol):
    """What the pump drives (`backends.base.RemoteTerminal` has this shape)."""

    async def read(self) -> bytes: ...
    async def write(self, data: bytes) -> None: ...
    def resize(self, cols: int, rows: int) -> None: ...


def window_size(fd: int) -> tuple[int, int]:
    """(columns, rows) of the terminal on `fd`; 80 x 24 when it is not one."""
    try:
        rows, cols, _x, _y = struct.unpack("hhhh", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    except OSError:
        return 80, 24
    return (cols or 80), (rows or 24)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            continue
        view = view[written:]


async def pump(terminal: Terminal, in_fd: int, out_fd: int,
               escape: bytes | None = None) -> Ended:
    """Connect the local tty (`in_fd`, `out_fd`) to `terminal` until it ends or `escape`."""
    loop = asyncio.get_running_loop()
    saved = termios.tcgetattr(in_fd) if os.isatty(in_fd) else None
    keys: asyncio.Queue[bytes] = asyncio.Queue()

    def readable() -> None:
        try:
            data = os.read(in_fd, READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        keys.put_nowait(data)
        if not data:
            loop.remove_reader(in_fd)  # local end closed: stop watching it

    def resized() -> None:
        terminal.resize(*window_size(out_fd))

    async def outward() -> Ended:
        while True:
            data = await keys.get()
            if not data:
                return "exited"
            if escape is not None and escape in data:
                before = data.split(escape, 1)[0]
                if before:
                    await terminal.write(before)
                return "escaped"
            await terminal.write(data)

    async def inward() -> Ended:
        while data := await terminal.read():
            _write_all(out_fd, data)
        return "exited"

    signals = threading.current_thread() is threading.main_thread()
    try:
        if saved is not None:
            tty.setraw(in_fd, termios.TCSANOW)
        loop.add_reader(in_fd, readable)
        if signals:
            loop.add_signal_handler(signal.SIGWINCH, resized)
        resized()  # the size may have changed since the process was opened
        tasks = [asyncio.ensure_future(inward()), asyncio.ensure_future(outward())]
        try:
            done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        first = next(t for t in tasks if t in done)
        return first.result()
    finally:
        with contextlib.suppress(ValueError, OSError):
            loop.remove_reader(in_fd)
        if signals:
            loop.remove_signal_handler(signal.SIGWINCH)
        if saved is not None:
            termios.tcsetattr(in_fd, termios.TCSAFLUSH, saved)
