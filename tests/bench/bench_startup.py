"""Start-up as the operator feels it: `novacron --version`, and the demo's first paint.

Both run the real `novacron` executable. First paint: the console on a pseudo-terminal (as in
tmux or over SSH) with no configuration (the demo fleet) and an empty state directory; the
clock stops when the screen shows the inventory's row count ("60 VMs"), i.e. rows are drawn.

Baseline: the code before the plug-in seam and the console/ reorganisation (commit 49bba77,
issue 9). Set `NOVACRON_BENCH_BASELINE=/path/to/checkout` (a checkout of that commit with its
own `.venv`, e.g. `git worktree add /tmp/base 49bba77 && make -C /tmp/base setup`) to measure
it beside ours on this machine now; otherwise the figures recorded for it on 2026-12-01 on
this machine kind are shown, marked as recorded.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 3 if os.environ.get("NOVACRON_BENCH_QUICK") else 7
RECORDED = {"version": 0.406, "paint": 0.93}
"""Medians for 49bba77 measured on this machine on 2026-12-01, load average ~1.4 (s)."""


def version_s(checkout: Path) -> float:
    exe = checkout / ".venv" / "bin" / "novacron"
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        subprocess.run([str(exe), "--version"], check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def first_paint_s(checkout: Path, marker: bytes = b"60 VMs", limit_s: float = 60, *,
                  state: Path | None = None, env: dict[str, str] | None = None) -> float:
    """Seconds from exec of `novacron` (no config: the demo) on a pty to `marker` on its
    screen. `state`: the state directory to use (default: a fresh one); `env`: more variables."""
    exe = str(checkout / ".venv" / "bin" / "novacron")
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "TERM": "xterm-256color",
               "NOVACRON_STATE_DIR": str(state or f"{home}/state"),
               "NOVACRON_CONFIG": f"{home}/none.toml", "COLUMNS": "120", "LINES": "40",
               **(env or {})}
        started = time.perf_counter()
        pid, fd = pty.fork()
        if pid == 0:
            os.chdir(checkout)
            os.execve(exe, [exe], env)
        seen = b""
        try:
            while time.perf_counter() - started < limit_s:
                ready, _, _ = select.select([fd], [], [], 0.5)
                if ready:
                    try:
                        seen = (seen + os.read(fd, 65536))[-4096:]
                    except OSError:
                        break
                    if marker in seen.replace(b"\x1b[", b""):
                        return time.perf_counter() - started
            raise RuntimeError(f"no first paint within {limit_s:g} s")
        finally:
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)
            os.close(fd)


def run() -> list[tuple[str, str, str, str]]:
    base = os.environ.get("NOVACRON_BENCH_BASELINE")
    ours_version = version_s(ROOT)
    ours_paint = statistics.median(first_paint_s(ROOT) for _ in range(max(1, ROUNDS // 2)))
    if base:
        b_version = version_s(Path(base))
        b_paint: float | None = statistics.median(
            first_paint_s(Path(base)) for _ in range(max(1, ROUNDS // 2)))
        where = "measured now"
    else:
        b_version, b_paint, where = RECORDED["version"], RECORDED["paint"], "recorded"

    def verdict(ours: float, baseline: float | None) -> str:
        if baseline is None:
            return "no baseline"
        return "ok (not slower)" if ours <= baseline * 1.10 else "SLOW"

    return [
        ("`novacron --version` (median)", f"{ours_version * 1000:.0f} ms",
         f"{b_version * 1000:.0f} ms (49bba77, {where})", verdict(ours_version, b_version)),
        ("demo: start to first paint of the inventory (pty)", f"{ours_paint:.2f} s",
         "n/a" if b_paint is None else f"{b_paint:.2f} s (49bba77, {where})",
         verdict(ours_paint, b_paint)),
    ]
