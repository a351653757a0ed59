"""Benchmark: our `ResourceTable` vs Textual's stock `DataTable`, 10k and 100k VMs.

Method (the same for both tables, one fresh process per table and size):

- The app is a child process (`python -m tests.bench.bench_table --child ...`) whose stdin,
  stdout and stderr are the slave side of a pseudo-terminal of 160x48 with
  `TERM=xterm-256color`, so Textual runs its real Linux driver and writes real escape
  sequences, exactly as in tmux or over SSH. The parent reads the master side and counts
  every byte. The only widget on screen is the table, with the inventory's columns
  (`screens.rows.VM_COLUMNS`); both tables get the same cells (`screens.rows.vm_row` of the
  same generated VMs, in the same order) and the same keys.
- First full paint: the VMs and their rows are built before the app starts (the same for
  both). The child sends `time.monotonic()` (system-wide on Linux) just before `App.run()`;
  the table's rows are loaded in `on_mount` (`set_rows` / `add_column` + `add_row`). The
  parent stops the clock when the name of the 46th row, the last one both tables show at
  48 lines, arrives in the bytes read from the pty. Median of three fresh launches, except
  DataTable at 100k (one launch: it takes 15-25 s, far beyond the noise).
- Refresh: the parent presses `r`; the child applies one poll's worth of changes: 1 % of the
  rows (a seeded random sample of the whole fleet, always including one row on screen so
  every refresh really repaints something) get a new state and a new memory size. Ours:
  `update_rows(changed_rows)`; DataTable: `update_cell` on the two changed cells of each
  changed row. The change lists are built before the clock starts. CPU is the child's
  `time.process_time()` (all threads) from just before the update until the last frame
  handed to the driver (`App.post_display_hook`) once no further frame came for 150 ms.
  Bytes are everything the parent read from the pty from the key press until the output has
  been quiet for 200 ms. One warm-up refresh, then the mean (and max) of `REFRESHES`.
- A cross-check from outside: the child's whole CPU (utime+stime from `/proc`, key handling
  and idle time between refreshes included) divided by the number of refreshes.

`NOVACRON_BENCH_QUICK=1` (`make bench ARGS=--quick`) measures 10k only.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import fcntl
import json
import os
import random
import select
import statistics
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
COLS, LINES = 160, 48
PROBE_ROW = 45
"""Index of the row whose name marks a full first paint (both tables show rows 0..45)."""
REFRESHES = 8
CLK_TCK = os.sysconf("SC_CLK_TCK")
TARGET_PAINT_S = 1.0
TARGET_CPU_MS = 10.0
TARGET_BYTES = 1536
TARGET_RATIO = 10.0
KINDS = ("ours", "datatable")

# -- data (shared by the child of both kinds) ------------------------------------------------

_ROLES = ("web", "api", "db", "cache", "queue", "batch", "ci", "search", "auth", "mail")
_SITES = ("fra", "ams", "par", "lon", "waw")


def make_vms(n: int) -> list[Any]:
    """`n` realistic VMs over n/50 hosts; names are unique and contain their index."""
    from console.models import VM, VMState

    states = [VMState.RUNNING] * 7 + [VMState.STOPPED, VMState.PAUSED, VMState.CRASHED]
    rng = random.Random(42)
    vms = []
    for i in range(n):
        role, site = _ROLES[i % len(_ROLES)], _SITES[(i // 7) % len(_SITES)]
        host = f"kvm-{site}-{(i // 50) % 9999:04d}"
        vms.append(VM(
            id=f"{i:08x}-4c1e-9a7b-{i:012d}",
            name=f"{role}-{site}-{i:06d}",
            state=rng.choice(states),
            host=host,
            backend=f"libvirt-{site}",
            vcpus=rng.choice((1, 2, 4, 8, 16)),
            memory_bytes=rng.choice((1, 2, 4, 8, 16, 32)) * 2**30,
            tags=(f"env:{rng.choice(('prod', 'stage', 'dev'))}", f"team:{role}"),
        ))
    return vms


def make_polls(vms: list[Any], count: int) -> list[list[Any]]:
    """`count` polls, each 1 % of the VMs with a new state and memory, one of them on screen.

    Every changed VM shows a different state and memory size than before the poll.
    """
    from console.models import VMState

    cycle = (VMState.RUNNING, VMState.PAUSED, VMState.STOPPED, VMState.MIGRATING)
    after = {state: cycle[(n + 1) % len(cycle)] for n, state in enumerate(cycle)}
    rng = random.Random(7)
    changed = max(1, len(vms) // 100)
    polls = []
    for _ in range(count):
        indices = set(rng.sample(range(len(vms)), changed - 1))
        indices.add(rng.randrange(PROBE_ROW))  # at least one visible row changes
        while len(indices) < changed:
            indices.add(rng.randrange(len(vms)))
        poll = []
        for i in sorted(indices):
            vm = vms[i] = dataclasses.replace(
                vms[i], state=after.get(vms[i].state, VMState.RUNNING),
                memory_bytes=vms[i].memory_bytes + 2**29)
            poll.append(vm)
        polls.append(poll)
    return polls


# -- the child: one app on the pty -----------------------------------------------------------


def _child(kind: str, n: int, fd: int) -> None:
    from textual.app import App, ComposeResult
    from textual.binding import Binding
    from textual.widgets import DataTable

    from screens.rows import VM_COLUMNS, vm_row
    from themes import DEFAULT_STATUS
    from widgets.resource_table import ResourceTable

    report = os.fdopen(fd, "w", buffering=1)

    def send(**event: Any) -> None:
        report.write(json.dumps(event) + "\n")

    vms = make_vms(n)
    rows = [vm_row(vm) for vm in vms]
    polls = [[vm_row(vm) for vm in poll] for poll in make_polls(vms, REFRESHES + 1)]
    state_at = next(i for i, c in enumerate(VM_COLUMNS) if c.key == "state")
    memory_at = next(i for i, c in enumerate(VM_COLUMNS) if c.key == "memory")

    class BenchApp(App[None]):
        BINDINGS = [Binding("r", "poll", priority=True)]

        def __init__(self) -> None:
            super().__init__()
            self.polls = iter(polls)
            self.displays = 0
            self.last_display = 0.0
            self.last_display_cpu = 0.0

        def get_theme_variable_defaults(self) -> dict[str, str]:
            return dict(DEFAULT_STATUS)

        def compose(self) -> ComposeResult:
            if kind == "ours":
                yield ResourceTable(VM_COLUMNS, id="table")
            else:
                yield DataTable(id="table")

        def on_mount(self) -> None:
            if kind == "ours":
                self.query_one(ResourceTable).set_rows(rows)
                return
            table = self.query_one(DataTable)
            for column in VM_COLUMNS:
                table.add_column(column.label, key=column.key)
            for row in rows:
                table.add_row(*row.cells, key=row.key)

        def post_display_hook(self) -> None:
            self.displays += 1
            self.last_display = time.monotonic()
            self.last_display_cpu = time.process_time()

        def action_poll(self) -> None:
            poll = next(self.polls)
            displays = self.displays
            started = time.process_time()
            if kind == "ours":
                self.query_one(ResourceTable).update_rows(poll)
            else:
                table = self.query_one(DataTable)
                for row in poll:
                    table.update_cell(row.key, "state", row.cells[state_at])
                    table.update_cell(row.key, "memory", row.cells[memory_at])
            self._settle = asyncio.create_task(self._report(started, displays))

        async def _report(self, started: float, displays: int) -> None:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                await asyncio.sleep(0.02)
                if self.displays > displays and time.monotonic() - self.last_display >= 0.15:
                    break
            send(event="refresh", cpu=self.last_display_cpu - started,
                 frames=self.displays - displays)

    send(event="start", t=time.monotonic())
    BenchApp().run()


# -- the parent: drive a child, read the pty --------------------------------------------------


class Child:
    """One bench app on a fresh pty; `read()` drains its output and counts the bytes."""

    def __init__(self, kind: str, n: int) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLS, 0, 0))
        report_r, report_w = os.pipe()
        env = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor"}
        for name in ("TEXTUAL", "NO_COLOR", "TEXTUAL_DRIVER"):
            env.pop(name, None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.bench.bench_table", "--child", kind, str(n),
             str(report_w)],
            stdin=slave, stdout=slave, stderr=slave, cwd=ROOT, env=env,
            pass_fds=(report_w,), start_new_session=True)
        os.close(slave)
        os.close(report_w)
        self.reports = os.fdopen(report_r, "r")
        self.output = bytearray()

    def read(self, timeout: float) -> bool:
        """Read what is there (waiting up to `timeout`); False when nothing came."""
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            chunk = os.read(self.master, 1 << 16)
        except OSError:  # the child is gone
            return False
        self.output += chunk
        return bool(chunk)

    def report(self, timeout: float) -> dict[str, Any]:
        """The next event from the child's report pipe, draining the pty meanwhile."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.reports], [], [], 0)
            if ready:
                line = self.reports.readline()
                if not line:
                    break
                return dict(json.loads(line))
            self.read(0.01)
        raise RuntimeError(f"the bench app stopped answering; last output: {self.tail()!r}")

    def quiet(self, seconds: float, limit: float = 30.0) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and self.read(seconds):
            pass

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def tail(self) -> bytes:
        return bytes(self.output[-300:])

    def close(self) -> None:
        try:
            os.write(self.master, b"\x11")  # ctrl+q
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        finally:
            self.reports.close()
            os.close(self.master)


@dataclasses.dataclass
class Figures:
    paint_s: float
    cpu_ms: float
    cpu_max_ms: float
    bytes_mean: float
    bytes_max: int
    proc_cpu_ms: float


def _first_paint(child: Child, kind: str, n: int) -> float:
    """Seconds from the child's `App.run()` until the probe row's name reached the pty."""
    started = float(child.report(timeout=120)["t"])
    probe = f"-{PROBE_ROW:06d}".encode()
    deadline = time.monotonic() + 120
    while probe not in child.output:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{kind} at {n}: no first paint; last output {child.tail()!r}")
        child.read(0.05)
    return time.monotonic() - started


def paint_only(kind: str, n: int) -> float:
    child = Child(kind, n)
    try:
        return _first_paint(child, kind, n)
    finally:
        child.close()


def measure(kind: str, n: int, launches: int) -> Figures:
    """First paint (median of `launches` fresh processes), then the refreshes in the first."""
    child = Child(kind, n)
    try:
        paints = [_first_paint(child, kind, n)]
        child.quiet(0.5)
        cpus, sizes = [], []
        proc_cpu0 = 0.0
        for k in range(REFRESHES + 1):
            if k == 1:
                proc_cpu0 = child.cpu_s()
            before = len(child.output)
            os.write(child.master, b"r")
            event = child.report(timeout=60)
            child.quiet(0.2)
            if not event["frames"]:
                raise RuntimeError(f"{kind} at {n}: a poll changed visible rows but nothing was drawn")
            if k == 0:
                continue  # warm-up
            cpus.append(float(event["cpu"]))
            sizes.append(len(child.output) - before)
        proc_cpu_ms = (child.cpu_s() - proc_cpu0) / REFRESHES * 1000
    finally:
        child.close()
    paints += [paint_only(kind, n) for _ in range(launches - 1)]
    return Figures(statistics.median(paints), sum(cpus) / len(cpus) * 1000, max(cpus) * 1000,
                   sum(sizes) / len(sizes), max(sizes), proc_cpu_ms)


def _verdict(ours: float, theirs: float, target: float, unit: str) -> str:
    ratio = theirs / ours if ours > 0 else float("inf")
    meets = "PASS" if ours <= target else "FAIL"
    better = "PASS" if ratio >= TARGET_RATIO else "FAIL"
    return f"<= {target:g} {unit}: {meets}; {ratio:.0f}x (>= {TARGET_RATIO:g}x): {better}"


def run() -> list[tuple[str, str, str, str]]:
    sizes = [10_000] if os.environ.get("NOVACRON_BENCH_QUICK") else [10_000, 100_000]
    rows: list[tuple[str, str, str, str]] = [
        ("ResourceTable vs DataTable, pty 160x48, xterm-256color", "ResourceTable", "DataTable", "")]
    for n in sizes:
        # DataTable at 100k takes ~15-25 s to paint: once is enough there (and keeps the bench
        # under ~3 minutes); every other first paint is the median of three launches.
        ours = measure("ours", n, launches=3)
        theirs = measure("datatable", n, launches=3 if n <= 10_000 else 1)
        label = f"{n // 1000}k VMs"
        rows += [
            (f"{label}: App start to first full paint (median)", f"{ours.paint_s:.2f} s",
             f"{theirs.paint_s:.2f} s", _verdict(ours.paint_s, theirs.paint_s, TARGET_PAINT_S, "s")),
            (f"{label}: CPU per refresh, 1 % changed (mean of {REFRESHES})", f"{ours.cpu_ms:.1f} ms",
             f"{theirs.cpu_ms:.1f} ms", _verdict(ours.cpu_ms, theirs.cpu_ms, TARGET_CPU_MS, "ms")),
            (f"{label}:   worst refresh", f"{ours.cpu_max_ms:.1f} ms", f"{theirs.cpu_max_ms:.1f} ms", ""),
            (f"{label}:   whole process per refresh (/proc, incl. idle)",
             f"{ours.proc_cpu_ms:.0f} ms", f"{theirs.proc_cpu_ms:.0f} ms", "(cross-check)"),
            (f"{label}: bytes written per refresh (mean)", f"{ours.bytes_mean / 1024:.2f} KB",
             f"{theirs.bytes_mean / 1024:.2f} KB",
             _verdict(ours.bytes_mean, theirs.bytes_mean, TARGET_BYTES, "B").replace(
                 f"<= {TARGET_BYTES} B", "<= 1.5 KB")),
            (f"{label}:   largest refresh", f"{ours.bytes_max / 1024:.2f} KB",
             f"{theirs.bytes_max / 1024:.2f} KB", ""),
        ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", nargs=3, metavar=("KIND", "N", "FD"))
    args = parser.parse_args()
    if args.child:
        kind, n, fd = args.child
        _child(kind, int(n), int(fd))
        return
    for row in run():
        print(" | ".join(row))


if __name__ == "__main__":
    main()
