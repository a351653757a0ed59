"""Hostile VM names and tags render as inert text everywhere, and never reach the terminal raw.

libvirt's XML cannot carry C0 controls (ESC itself), so the hostile fleet uses what it can
carry: the 8-bit C1 forms of the same sequences (CSI clear screen `\\x9b2J`, OSC 52 clipboard
write and OSC 8 link `\\x9d…\\x9c`), a bidi override, and Textual/Rich markup including a click
action. Checked in the table, detail, dialogs, notifications, the audit screen, the bytes the
real program writes to a pty, and the CLI's output.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.text import Text

from console.actions.dispatcher import Dispatcher
from console.app import NovaApp
from console.config import load_settings, resolve_context
from console.fleet.polling import Fleet
from console.fleet.sources import build_backends
from console.store import Store
from screens.confirm import ConfirmScreen
from tests import wait_for
from tests.functional.action_fleet import RUNNING, FakeVM, write_config, write_host

pytestmark = pytest.mark.timeout(120)

NAMES = [
    "evil\x9b2J\x9d52;c;ZXZpbA==\x9c",
    "mark[b]up[@click=app.quit]x",
    "bidi\u202eexe.txt",
    "link\x9d8;;http:\\\\evil.example\x9cclick",
]
TAGS = ("t[/]x[/bold]", "osc\x9d52;c;ZXZpbA==\x9c", "rtl\u202etag")
FORBIDDEN = ("\x9b", "\x9c", "\x9d", "\u202e", "\x1b]52", "\x1b]8;;http")


def hostile_vms() -> list[FakeVM]:
    return [FakeVM(n, f"22222222-0000-0000-0000-00000000000{i}", RUNNING, TAGS)
            for i, n in enumerate(NAMES)]


@pytest.fixture
def hostile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    uri = write_host(tmp_path, "evil-host", hostile_vms())
    config = write_config(tmp_path / "config.toml", "evil", {"evil-host": uri}, read_only=False)
    monkeypatch.setenv("NOVACRON_CONFIG", str(config))
    monkeypatch.setenv("NOVACRON_STATE_DIR", str(tmp_path / "state"))
    return config


def inert(text: str) -> None:
    for bad in FORBIDDEN:
        assert bad not in text, (bad, text)



async def test_table_detail_dialog_notification_audit(hostile: Path, tmp_path: Path) -> None:
    settings, _ = load_settings(hostile)
    name, context = resolve_context(settings, None)
    fleet = Fleet(name, build_backends(context, read_only=False), interval_s=1.0)
    store = await Store.open(tmp_path / "audit.db")
    app = NovaApp(fleet, dispatcher=Dispatcher(fleet.backends, audit=store, context=name,
                                               read_only=False, poke=fleet.poke))
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and len(app.snapshot.vms) == 4)
        inventory = app.screen
        await wait_for(pilot, lambda: inventory.table.row_count == 4)
        for vm in app.snapshot.vms:  # sanitized at ingestion
            inert(vm.name)
            inert(" ".join(vm.tags))
        lines = "\n".join(inventory.table.render_line(y).text for y in range(6))
        inert(lines)
        assert "[@click=app.quit]" in lines and "t[/]x[/bold]" in lines  # shown, not parsed

        markup_vm = next(vm for vm in app.snapshot.vms if "[@click=app.quit]" in vm.name)
        inventory.table.move_to(markup_vm.key)
        await pilot.press("enter")  # detail
        await pilot.pause(0.3)
        assert type(app.screen).__name__ == "VMDetailScreen"
        from rich.console import Console

        from screens.vm_detail import detail_table

        console = Console(width=160, record=True, force_terminal=True, color_system="truecolor")
        with console.capture() as capture:
            console.print(detail_table(markup_vm, time.time()))
        inert(capture.get())
        assert "[@click=app.quit]" in capture.get()
        await pilot.press("escape")
        await pilot.pause(0.2)

        await pilot.press("d")  # a dialog naming the VM
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        body = app.screen.query_one("#body").render()
        assert isinstance(body, Text) or "[@click=app.quit]" in str(body)
        assert "[@click=app.quit]" in str(body)
        await pilot.press("tab", "enter")
        await pilot.pause(0.5)
        await app.workers.wait_for_complete()
        notes = list(app._notifications)
        assert notes and all(not n.markup for n in notes)
        assert any("[@click=app.quit]" in n.message for n in notes)
        for n in notes:
            inert(n.message + n.title)

        await pilot.press("ctrl+p")  # palette entries: the VM and the actions on it
        await pilot.pause(0.3)
        from textual.command import CommandList
        from textual.widgets import Input

        app.screen.query_one(Input).value = "mark"
        await pilot.pause(0.8)
        options = app.screen.query_one(CommandList)
        prompts = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert any("VM mark[b]up[@click=app.quit]x" in p for p in prompts), prompts
        assert any("[@click=app.quit]" in p and ":" in p for p in prompts)
        await pilot.press("escape")
        await pilot.pause(0.2)

        await pilot.press("5")  # the audit screen
        await wait_for(pilot, lambda: getattr(app.screen, "entries", None))
        rows = "\n".join(app.screen.query_one("ResourceTable").render_line(y).text for y in range(3))
        inert(rows)
        assert "[@click=app.quit]" in rows
        assert app.is_running  # the click markup did not quit anything
    await store.close()


def _read(fd: int, seconds: float, until: bytes = b"") -> bytes:
    """What the program writes for `seconds`, or until `until` appears (whichever first)."""
    out = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not (until and until in out):
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    return out


def test_no_raw_control_bytes_reach_the_terminal(hostile: Path) -> None:
    """Run the real program on a pty and look at every byte it writes."""
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "140", "LINES": "40"}
    master, slave = pty.openpty()
    os.set_blocking(master, False)
    import fcntl
    import struct
    import termios

    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 140, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "console.cli.main"], stdin=slave, stdout=slave,
                            stderr=slave, env=env, close_fds=True, start_new_session=True)
    os.close(slave)
    try:
        out = _read(master, 60.0, until=b"evil")  # the first paint, however slow the machine
        out += _read(master, 1.0)
        for keys in (b"\r", b"\x1b", b"d", b"\x1b", b"F", b"\x1b", b"5"):
            os.write(master, keys)
            out += _read(master, 1.0)
        os.write(master, b"q")
        out += _read(master, 2.0)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    text = out.decode("utf-8", errors="replace")
    assert "\ufffd" in text and "evil" in text  # the names were drawn, with their marks
    for bad in ("\x9b", "\x9c", "\x9d", "\u202e"):
        assert bad not in text
    assert b"]52;" not in out and b"]8;;http" not in out


def test_cli_output_is_inert(hostile: Path) -> None:
    def run(*args: str) -> bytes:
        return subprocess.run([sys.executable, "-m", "console.cli.main", *args], capture_output=True,
                              timeout=60).stdout + b"\n"

    out = run("vm", "list") + run("vm", "list", "--json")
    out += run("vm", "reboot", "22222222-0000-0000-0000-000000000000", "--yes")
    out += run("vm", "start", "22222222-0000-0000-0000-000000000001")  # fails: running
    out += run("audit") + run("audit", "--json")
    for bad in (b"\x1b", b"\xc2\x9b", b"\xc2\x9c", b"\xc2\x9d", b"\xe2\x80\xae"):
        assert bad not in out
    assert b"[@click=app.quit]" in out
