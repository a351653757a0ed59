"""A child process whose stdin/stdout are a pty the test drives: it opens a shell (or a VM's
serial console) over the console's own SSH link and hands its terminal over with
`console.tty_pump.pump`, exactly what the TUI does inside `App.suspend()`.

    python -m tests.integration.terminal_child shell CONFIG HOST [escape]
    python -m tests.integration.terminal_child console CONFIG HOST SOCKET VM
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sys
import termios

from backends import registry
from console.tty_pump import CTRL_RIGHT_BRACKET, pump, window_size


async def main(argv: list[str]) -> None:
    mode, config, host = argv[:3]
    cols, rows = window_size(1)
    before = termios.tcgetattr(0)
    backend = None
    if mode == "shell":
        link = registry.transport("ssh").open(host, config_path=config, timeout_s=10)
        terminal = await link.open_terminal(None, term="xterm-256color", cols=cols, rows=rows)
        escape = CTRL_RIGHT_BRACKET if argv[3:] == ["escape"] else None
    else:
        kind = registry.kind("libvirt")
        source = kind.config(name=host, uri="test:///default", transport="ssh", ssh_host=host,
                             ssh_config=config, libvirt_socket=argv[3], timeout_s=10)
        backend = kind.open(source, read_only=False)
        terminal = await backend.open_console(argv[4], term="xterm-256color", cols=cols,
                                              rows=rows)
        escape = CTRL_RIGHT_BRACKET
    os.write(1, b"PUMP-START\r\n")
    ended = await pump(terminal, 0, 1, escape)
    status = await terminal.close()
    restored = termios.tcgetattr(0) == before
    os.write(1, f"\r\nPUMP-ENDED {ended} status={status} restored={restored}\r\n".encode())
    if backend is not None:
        await backend.close()


if __name__ == "__main__":
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # the pty is our controlling tty: SIGWINCH reaches us
    asyncio.run(main(sys.argv[1:]))
