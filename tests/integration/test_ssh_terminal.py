"""The terminal handover against real sshd: a child process whose terminal is a pty this test
drives opens a shell over the console's SSH link and pumps it (`console.tty_pump`).

What a user would check: what they type runs remotely and its output comes back; the remote
side sees their window size, and a resize (SIGWINCH) reaches it; `exit` ends it and the local
terminal's modes are restored; ctrl-] leaves a process that does not end by itself; a VM's
serial console runs `virsh console` on the host over the same kind of channel.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.integration.sshd_fixture import GUEST, SshLab, sshlab

__all__ = ["sshlab"]  # the fixture, used by name

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[2]


class PtyChild:
    """`terminal_child` on a fresh pty; `read_until` collects what it writes."""

    def __init__(self, *args: str, cols: int = 100, rows: int = 30) -> None:
        self.master, slave = os.openpty()
        self.resize(cols, rows)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.terminal_child", *args], cwd=ROOT,
            stdin=slave, stdout=slave, stderr=slave, start_new_session=True, close_fds=True)
        os.close(slave)
        self.seen = b""

    def resize(self, cols: int, rows: int) -> None:
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("hhhh", rows, cols, 0, 0))

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def read_until(self, marker: bytes, timeout_s: float = 30, start: int = 0) -> bytes:
        """Everything read so far once `marker` appears after offset `start`."""
        deadline = time.monotonic() + timeout_s
        while marker not in self.seen[start:]:
            if time.monotonic() > deadline:
                raise AssertionError(f"never saw {marker!r}; got {self.seen[-2000:]!r}")
            import select
            ready, _, _ = select.select([self.master], [], [], 0.5)
            if ready:
                try:
                    self.seen += os.read(self.master, 65536)
                except OSError:  # the child closed the pty
                    time.sleep(0.1)
        return self.seen

    def close(self) -> int:
        try:
            return self.proc.wait(20)
        finally:
            os.close(self.master)


@pytest.fixture
def config(sshlab: SshLab) -> Path:
    return sshlab.config()


def start_shell(config: Path, *extra: str) -> PtyChild:
    child = PtyChild("shell", str(config), "kvm1", *extra)
    seen = child.read_until(b"PUMP-START")
    child.read_until(b"# ", start=len(seen))  # root's prompt: the pump is running, tty raw
    return child


def test_shell_runs_what_is_typed_and_restores_the_terminal(config: Path) -> None:
    child = start_shell(config)
    try:
        token = secrets.token_hex(4)
        mark = len(child.seen)
        child.send(f"stty size; echo hello-$((6*7))-{token}\r".encode())
        out = child.read_until(f"hello-42-{token}".encode(), start=mark)[mark:]
        assert b"30 100" in out  # TERM size given at open
        child.resize(120, 40)  # SIGWINCH in the child, forwarded to the remote PTY
        deadline = time.monotonic() + 30
        while True:
            mark = len(child.seen)
            child.send(b"stty size\r")
            out = child.read_until(b"#", start=mark + 10)[mark:]
            if b"40 120" in out:
                break
            assert time.monotonic() < deadline, f"the remote never saw 120x40: {out!r}"
        child.send(b"echo $TERM; exit\r")
        out = child.read_until(b"PUMP-ENDED", start=mark)[mark:]
        assert b"xterm-256color" in out
        tail = child.read_until(b"restored=", start=mark)
        child.read_until(b"\r\n", start=tail.rindex(b"restored="))
        assert b"PUMP-ENDED exited status=0 restored=True" in child.seen
    finally:
        assert child.close() == 0


def test_ctrl_right_bracket_leaves_a_process_that_does_not_end(config: Path) -> None:
    child = start_shell(config, "escape")
    try:
        mark = len(child.seen)
        child.send(b"echo READY-$((1+1)); cat\r")
        child.read_until(b"READY-2", start=mark)  # cat runs now (nothing else would block)
        child.send(b"ping-pong\r")
        child.read_until(b"ping-pong\r\nping-pong", start=mark)  # echoed by the pty, then cat
        child.send(b"\x1d")
        child.read_until(b"restored=True", start=mark)
        assert b"PUMP-ENDED escaped" in child.seen
    finally:
        assert child.close() == 0


def test_serial_console_runs_virsh_console_on_the_host(sshlab: SshLab, config: Path) -> None:
    socket = sshlab.libvirtds["kvm1"].socket
    child = PtyChild("console", str(config), "kvm1", socket, GUEST)
    try:
        seen = child.read_until(b"PUMP-ENDED")
        # The test driver has no serial device to attach to: virsh, run on the host against
        # the daemon the backend tunnels, connects to the domain and says so, then exits.
        assert f"Connected to domain '{GUEST}'".encode() in seen
        assert b"virDomainOpenConsole" in seen
        child.read_until(b"restored=True")
        assert b"PUMP-ENDED exited status=1" in child.seen
    finally:
        assert child.close() == 0
