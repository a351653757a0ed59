"""Start detached daemons and stop exactly the ones we started.

A pid alone can be reused by an unrelated process after ours exits, so every recorded process
is a (pid, start time) pair read from /proc: `lab down` signals a pid only while both match.
Daemons are started through `setsid sh -c '… &'` so they are re-parented away from the caller
(no zombies in a long-lived pytest process, no death when the CLI exits).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_LAUNCH = 'exec "$@" </dev/null >>"$NOVACRON_LAB_LOG" 2>&1 &\necho $!'


@dataclass(frozen=True, slots=True)
class Proc:
    """A process we started, identified beyond its pid."""

    pid: int
    start_time: int

    def to_json(self) -> dict[str, int]:
        return {"pid": self.pid, "start_time": self.start_time}

    @classmethod
    def from_json(cls, data: dict[str, int]) -> Proc:
        return cls(pid=int(data["pid"]), start_time=int(data["start_time"]))


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may contain spaces and parentheses: split after the last ')'.
    return raw[raw.rindex(")") + 2:].split()


def start_time_of(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def is_alive(proc: Proc) -> bool:
    """True while the very process we started runs (a zombie or a reused pid is not it)."""
    fields = _stat_fields(proc.pid)
    return fields is not None and fields[0] != "Z" and int(fields[19]) == proc.start_time


def spawn(argv: Sequence[str], log: Path, env: dict[str, str] | None = None) -> Proc:
    """Run argv detached in its own session, output appended to `log`; return its identity."""
    if shutil.which(argv[0]) is None:
        raise FileNotFoundError(f"cannot run {argv[0]}: not found or not executable")
    log.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **(env or {}), "NOVACRON_LAB_LOG": str(log)}
    out = subprocess.run(["setsid", "sh", "-c", _LAUNCH, "sh", *argv], env=full_env,
                         capture_output=True, text=True, check=True)
    pid = int(out.stdout.strip())
    started = start_time_of(pid)
    if started is None:
        raise RuntimeError(f"{argv[0]} exited at once; see {log}")
    return Proc(pid=pid, start_time=started)


def signal_proc(proc: Proc, sig: int) -> bool:
    """Send `sig` only if the recorded process is still the one we started."""
    if not is_alive(proc):
        return False
    try:
        os.kill(proc.pid, sig)
    except ProcessLookupError:
        return False
    return True


def stop(proc: Proc, timeout: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after `timeout`; wait until it is gone."""
    if not signal_proc(proc, signal.SIGTERM):
        return
    signal_proc(proc, signal.SIGCONT)  # a stopped process cannot act on SIGTERM
    deadline = time.monotonic() + timeout
    while is_alive(proc):
        if time.monotonic() > deadline:
            signal_proc(proc, signal.SIGKILL)
            deadline = time.monotonic() + timeout
        time.sleep(0.05)


def in_process_table(proc: Proc) -> bool:
    """True while `proc` is still listed, even as a zombie not yet reaped by init (`ps` and
    `pgrep` still show it, so an operator would call it running)."""
    return start_time_of(proc.pid) == proc.start_time


def wait_gone(procs: Sequence[Proc], ports: Sequence[int], timeout: float = 15.0) -> list[str]:
    """Wait until every process has left the process table and nothing listens on any of
    `ports`; returns what is still there after `timeout` (empty: all gone)."""
    deadline = time.monotonic() + timeout
    while True:
        left = [f"pid {p.pid}" for p in procs if in_process_table(p)]
        left += [f"port {port}" for port in ports if port_open(port)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def wait_port(port: int, proc: Proc | None, timeout: float, what: str, log: Path) -> None:
    """Wait for a daemon to listen; fail early, naming its log, if it died instead."""
    deadline = time.monotonic() + timeout
    while not port_open(port):
        if proc is not None and not is_alive(proc):
            raise RuntimeError(f"{what} exited before listening on {port}; see {log}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not listen on {port} within {timeout:.0f}s; see {log}")
        time.sleep(0.1)
