"""A shell on a host, or a VM's serial console: the console suspends and hands the terminal
over, then comes back intact.

Both are registered actions (`host.shell`, `vm.console`), so they go through the dispatcher:
read-only refuses them (audited) and opening one is audited. The remote process is one more
channel on the SSH connection the backend already holds (no `ssh` process); while it runs,
the app paints nothing (`batch_update`) and reads no keys (`suspend`), and `console.tty_pump`
moves the bytes. Sources not reached over SSH say so in one line.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from textual.app import App, SuspendNotSupported

from backends.base import SupportsConsole, SupportsHostLink
from console.actions.dispatcher import Outcome, Request, Target
from console.actions.registry import HOST_SHELL, VM_CONSOLE
from console.errors import Code
from console.tty_pump import CTRL_RIGHT_BRACKET, pump, window_size
from screens.console_app import console_app
from screens.run_action import notify, report

DEFAULT_TERM = "xterm-256color"


def _reachable(app: App[Any], backend_name: str, host: str, console: bool) -> bool:
    """Whether the source reaches `host` over SSH (and, for `console`, has VM consoles)."""
    dispatcher = console_app(app).dispatcher
    backend = dispatcher.backend(backend_name) if dispatcher is not None else None
    if console and not isinstance(backend, SupportsConsole):
        return False
    return isinstance(backend, SupportsHostLink) and backend.host_link(host) is not None


async def _open(app: App[Any], request: Request, host: str, console: bool) -> Outcome | None:
    """Dispatch the opening (refusals audited and shown); the outcome when it opened."""
    dispatcher = console_app(app).dispatcher
    spec = request.spec
    if dispatcher is None:
        notify(app, "Actions are not ready yet (the audit store is opening).", severity="warning")
        return None
    why = dispatcher.precheck(request, confirmation=False)
    if why is not None and why.kind is Code.READ_ONLY:  # above all: refused and audited
        report(app, spec, [await dispatcher.refuse(request, why)])
        return None
    if not _reachable(app, request.target.backend, host, console):
        notify(app, f"{spec.title}: not available for this source ({request.target.backend} "
               "is not reached over SSH).", severity="warning", title=spec.title)
        return None
    if why is not None:  # busy, …
        report(app, spec, [await dispatcher.refuse(request, why)])
        return None
    driver = getattr(app, "_driver", None)
    if driver is None or not driver.can_suspend:
        notify(app, f"{spec.title}: this terminal cannot be handed over (a browser or a "
               "headless run).", severity="warning", title=spec.title)
        return None
    outcome = await dispatcher.run(request)
    if not outcome.ok:
        report(app, spec, [outcome])
        return None
    return outcome


def _params() -> dict[str, object]:
    cols, rows = window_size(sys.__stdout__.fileno() if sys.__stdout__ else 1)
    return {"term": os.environ.get("TERM") or DEFAULT_TERM, "cols": cols, "rows": rows}


class _Tail:
    """The remote terminal, remembering its last output: a process that failed at once
    (virsh: no console on this guest) flashes by, so the notification repeats its last line."""

    def __init__(self, terminal: Any) -> None:
        self.terminal = terminal
        self.tail = b""

    async def read(self) -> bytes:
        data = await self.terminal.read()
        self.tail = (self.tail + data)[-400:]
        return data

    async def write(self, data: bytes) -> None:
        await self.terminal.write(data)

    def resize(self, cols: int, rows: int) -> None:
        self.terminal.resize(cols, rows)

    def last_line(self) -> str:
        lines = [line.strip() for line in self.tail.decode("utf-8", "replace").splitlines()]
        text = next((line for line in reversed(lines) if line), "")
        return "".join(ch for ch in text if ch.isprintable())[:160]


async def hand_over(app: App[Any], terminal: Any, banner: str,
                    escape: bytes | None = None) -> tuple[str, int | None, str]:
    """Suspend the app, pump the terminal until it ends, resume.
    (how it ended, exit status, the last line it wrote)"""
    remote = _Tail(terminal)
    stdin = sys.__stdin__.fileno() if sys.__stdin__ else 0
    stdout = sys.__stdout__.fileno() if sys.__stdout__ else 1
    with app.batch_update(), app.suspend():  # no paint may land on the remote's screen
        os.write(stdout, f"\r\n[novacron] {banner}\r\n".encode())
        try:
            ended = await pump(remote, stdin, stdout, escape)
        finally:
            status = await terminal.close()
        os.write(stdout, f"\r\n[novacron] {ended}; back to the console\r\n".encode())
    return ended, status, remote.last_line()


async def run_shell(app: App[Any], backend: str, host: str, origin: str = "tui") -> None:
    """`t` on the hosts screen: a login shell on `host` (in a worker)."""
    request = Request(HOST_SHELL, Target(backend, host, host), _params(), origin=origin)
    outcome = await _open(app, request, host, console=False)
    if outcome is None:
        return
    try:
        _ended, status, _last = await hand_over(app, outcome.value,
                                                f"shell on {host}; exit to return")
    except SuspendNotSupported:
        await outcome.value.close()
        notify(app, "Shell: this terminal cannot be handed over.", severity="warning")
        return
    notify(app, f"Shell on {host} ended (exit status {status if status is not None else '?'}).",
           title="Shell on host")


async def run_console(app: App[Any], target: Target, origin: str = "tui") -> None:
    """`C` on a VM: its serial console over the host's SSH link (in a worker)."""
    snapshot = console_app(app).snapshot
    vm = next((v for v in snapshot.vms if v.key == target.key), None) if snapshot else None
    host = vm.host if vm is not None else ""
    request = Request(VM_CONSOLE, target, _params(), origin=origin)
    outcome = await _open(app, request, host, console=True)
    if outcome is None:
        return
    try:
        ended, status, last = await hand_over(app, outcome.value,
                                        f"serial console of {target.name}; ctrl-] returns",
                                        escape=CTRL_RIGHT_BRACKET)
    except SuspendNotSupported:
        await outcome.value.close()
        notify(app, "Serial console: this terminal cannot be handed over.", severity="warning")
        return
    said = "left with ctrl-]" if ended == "escaped" else f"virsh exited ({status})"
    if ended != "escaped" and status:
        said += f": {last}"
    notify(app, f"Serial console of {target.name}: {said}.", title="Serial console")
