"""Soak benchmark: `novacron --wall` under a real pty for a long time, polls every 2 s.

The console runs as a child process on a pseudo-terminal (as in tmux or over SSH); everything
it writes is read from the pty master and counted. Three phases:

1. idle: wall summary, no page cycling, sources answering every 2 s with nothing changing.
   Target: zero bytes written (the header's age is coarse and redraws only when its text
   changes; tiles redraw only when their value changes).
2. refresh cost: one page switch (a full repaint of a different screen) against the number of
   screen cells, and the same page again (nothing changed: ~0 bytes).
3. soak: cycling pages every `NOVACRON_SOAK_CYCLE_S` (default 20 s) for `NOVACRON_SOAK_S`
   (default 1800 s): RSS at the start of the soak vs the end, CPU use, bytes per minute.

`run()` returns rows (label, measured, target, verdict); `make bench ARGS=--quick` soaks 60 s.
`NOVACRON_SOAK_CONTEXT` picks the context (default `demo`; `lab` when `novacron lab up` runs).
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COLS, ROWS = 120, 40
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Console:
    """A `novacron` child on a pty; a reader thread counts what it writes."""

    args: list[str]
    env: dict[str, str] = field(default_factory=dict)
    pid: int = 0
    fd: int = -1
    written: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: bool = False
    _thread: threading.Thread | None = None

    def start(self) -> None:
        exe = str(Path(sys.executable).with_name("novacron"))
        pid, fd = pty.fork()
        if pid == 0:  # child
            env = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor", **self.env}
            os.chdir(ROOT)
            os.execve(exe, [exe, *self.args], env)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        os.kill(pid, signal.SIGWINCH)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop:
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if not ready:
                continue
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                return
            if not data:
                return
            with self._lock:
                self.written += len(data)
            self._answer_queries(data)

    def _answer_queries(self, data: bytes) -> None:
        """Answer the terminal queries Textual sends (cursor position, DA), as a terminal would."""
        if b"\x1b[6n" in data:
            os.write(self.fd, b"\x1b[1;1R")

    def bytes_written(self) -> int:
        with self._lock:
            return self.written

    def send(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def rss(self) -> int:
        """Resident set size in bytes (from /proc/PID/statm)."""
        with open(f"/proc/{self.pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE

    def cpu_s(self) -> float:
        """User + system CPU seconds used so far."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def stop(self) -> None:
        try:
            self.send(b"q")
            deadline = time.time() + 5
            while time.time() < deadline:
                done, _ = os.waitpid(self.pid, os.WNOHANG)
                if done:
                    break
                time.sleep(0.1)
            else:
                os.kill(self.pid, signal.SIGTERM)
                os.waitpid(self.pid, 0)
        except (OSError, ChildProcessError):
            pass
        self._stop = True
        if self._thread is not None:
            self._thread.join(2)
        os.close(self.fd)


def _settle(console: Console, quiet_s: float = 3.0, limit_s: float = 60.0,
            at_least: int = 0) -> None:
    """Wait until the console wrote `at_least` bytes, then nothing for `quiet_s`."""
    deadline = time.time() + limit_s
    while console.bytes_written() < at_least and time.time() < deadline:
        time.sleep(0.1)
    last, since = console.bytes_written(), time.time()
    while time.time() < deadline:
        time.sleep(0.25)
        now = console.bytes_written()
        if now != last:
            last, since = now, time.time()
        elif time.time() - since >= quiet_s:
            return


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def run() -> list[tuple[str, str, str, str]]:
    quick = os.environ.get("NOVACRON_BENCH_QUICK") == "1"
    soak_s = float(os.environ.get("NOVACRON_SOAK_S", "60" if quick else "1800"))
    cycle_s = float(os.environ.get("NOVACRON_SOAK_CYCLE_S", "20"))
    context = os.environ.get("NOVACRON_SOAK_CONTEXT", "demo")
    idle_s = min(60.0, max(20.0, soak_s / 10))
    rows: list[tuple[str, str, str, str]] = []

    # Phases 1 and 2: no cycling, so every byte is a real change.
    console = Console(["--wall", "--context", context, "--cycle", "0"])
    console.start()
    try:
        _settle(console, at_least=COLS * ROWS)
        before, cpu0, t0 = console.bytes_written(), console.cpu_s(), time.time()
        time.sleep(idle_s)
        idle_bytes = console.bytes_written() - before
        idle_cpu = (console.cpu_s() - cpu0) / (time.time() - t0)
        rows.append((f"idle wall, polls every 2 s: bytes written in {idle_s:.0f} s",
                     f"{idle_bytes} B", "0 B", _verdict(idle_bytes == 0)))
        rows.append(("idle CPU (polling 2 s, nothing changes)", f"{idle_cpu * 100:.2f} %",
                     "<= 1 %", _verdict(idle_cpu <= 0.01)))
        before = console.bytes_written()
        console.send(b"3")
        _settle(console, quiet_s=2.0)
        switch = console.bytes_written() - before
        rows.append((f"page switch (full repaint of {COLS}x{ROWS} = {COLS * ROWS} cells)",
                     f"{switch} B ({switch / (COLS * ROWS):.1f} B/cell)", "~ screen size",
                     _verdict(0 < switch < COLS * ROWS * 40)))
        before = console.bytes_written()
        console.send(b"3")
        _settle(console, quiet_s=2.0)
        same = console.bytes_written() - before
        rows.append(("same page again (nothing changed)", f"{same} B", "~0 B",
                     _verdict(same < 200)))
    finally:
        console.stop()

    # Phase 3: the soak, cycling pages.
    console = Console(["--wall", "--context", context, "--cycle", f"{cycle_s:g}s"])
    console.start()
    try:
        _settle(console, at_least=COLS * ROWS)
        time.sleep(max(min(30.0, soak_s / 10), 4 * cycle_s + 5))  # every page built once
        rss0, cpu0, bytes0, t0 = console.rss(), console.cpu_s(), console.bytes_written(), time.time()
        samples = [rss0]
        while time.time() - t0 < soak_s:
            time.sleep(min(30.0, soak_s / 20))
            samples.append(console.rss())
        elapsed = time.time() - t0
        rss1 = console.rss()
        cpu = (console.cpu_s() - cpu0) / elapsed
        per_minute = (console.bytes_written() - bytes0) / elapsed * 60
    finally:
        console.stop()
    growth = (rss1 - rss0) / rss0
    rows.append((f"RSS over {elapsed / 60:.1f} min soak (start -> end, peak)",
                 f"{rss0 / 2**20:.1f} -> {rss1 / 2**20:.1f} MiB ({growth * 100:+.1f} %), "
                 f"peak {max(samples) / 2**20:.1f} MiB", "within 5 %", _verdict(abs(growth) <= 0.05)))
    # The metric histories fill for their first DEFAULT_POINTS polls (24 min at 2 s) and are
    # flat after: the second half of a long soak is where a leak would show on its own.
    half = samples[len(samples) // 2]
    late = (rss1 - half) / half
    rows.append(("RSS over the second half of the soak (histories full after 24 min)",
                 f"{half / 2**20:.1f} -> {rss1 / 2**20:.1f} MiB ({late * 100:+.1f} %)",
                 "within 1 %", _verdict(abs(late) <= 0.01)))
    rows.append((f"CPU while cycling every {cycle_s:g} s (page switches included)",
                 f"{cpu * 100:.2f} %", "<= 2 % (idle: 1 %)", _verdict(cpu <= 0.02)))
    pages_per_min = 60 / cycle_s if cycle_s else 0
    rows.append(("bytes written per minute while cycling",
                 f"{per_minute / 1024:.1f} KiB ({pages_per_min:.0f} page switches/min)",
                 "page switches only", _verdict(per_minute <= max(1, pages_per_min) * switch * 1.5)))
    return rows


def main() -> None:
    for label, measured, target, verdict in run():
        print(f"{label:62} {measured:>34}  target {target:<18} {verdict}")


if __name__ == "__main__":
    main()
