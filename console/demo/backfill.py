"""The demo's 24-hour history: written as OpenMetrics, turned into TSDB blocks by `promtool`,
and moved into the demo Prometheus' data directory.

Made once and kept in the state directory; each later start backfills only what no block
holds yet: from the newest block's end (Prometheus' own blocks of scraped data count) to now,
so returning to the demo a day later shows a full day again. Samples the last run scraped
that are still only in the write-ahead log are written again; the values are the same
functions of time, so nothing jumps.

Two parts: the last few minutes (`RECENT_S`, as densely as Prometheus scrapes) before
Prometheus starts, so its first 5-minute rates are whole and exact (`rate()` extrapolates
less across a sparse start); and the rest (a sample a minute) while it runs, built in a
staging directory and moved in whole (a running Prometheus loads new blocks at its next
reload, within a minute, and never sees a half-written one). The rest is recorded as owed
(`owed.json`) until it is in, so a console that quits meanwhile leaves the next start to
finish it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from console.demo.exposition import Family, families, openmetrics_lines
from console.demo.workload import fleet

HISTORY_S = 24 * 3600.0
"""How far back the demo's charts reach."""
STEP_S = 60.0
"""Spacing of backfilled samples: a 5-minute `rate()` window always holds several."""
RECENT_S = 6 * 60.0
"""Backfilled before Prometheus starts: more than one `rate()` window."""

Span = tuple[float, float]


def newest_block_end(data: Path) -> float:
    """The newest `maxTime` among the TSDB's blocks, in seconds (0 when there is none)."""
    newest = 0.0
    for meta in data.glob("*/meta.json"):
        try:
            newest = max(newest, float(json.loads(meta.read_text())["maxTime"]) / 1000)
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return newest


def background() -> None:
    """In a child before exec: a lower CPU priority, so the console's own start-up (and the
    operator's keys) come first on a small machine."""
    os.nice(10)


def _grid(t: float) -> float:
    return t // STEP_S * STEP_S


class History:
    """Which span of time the demo's TSDB lacks, and how to add it."""

    def __init__(self, directory: Path, promtool: str, *, history_s: float = HISTORY_S) -> None:
        self.directory = directory
        self.history_s = history_s
        self.data = directory / "data"
        self.promtool = promtool
        self._owed = directory / "owed.json"
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self.cancelled = threading.Event()

    def spans(self, now: float) -> tuple[Span | None, Span | None]:
        """(recent, older): what to write before Prometheus starts, and what after (either
        None when nothing is missing there)."""
        floor = now - self.history_s
        start = max(newest_block_end(self.data), floor)
        owed = self._read_owed()
        if owed is not None and owed[1] > floor:
            start = min(start, max(owed[0], floor))
        start = _grid(start)
        if now - start < STEP_S:
            return None, None
        split = max(start, _grid(now - RECENT_S))
        return (split, now), ((start, split) if split - start >= STEP_S else None)

    def owe(self, span: Span) -> None:
        tmp = self._owed.with_suffix(".tmp")
        tmp.write_text(json.dumps(list(span)))
        os.replace(tmp, self._owed)

    def settle(self) -> None:
        self._owed.unlink(missing_ok=True)

    def _read_owed(self) -> Span | None:
        try:
            start, end = json.loads(self._owed.read_text())
            return float(start), float(end)
        except (OSError, ValueError, TypeError):
            return None

    def fill(self, span: Span, step_s: float = STEP_S) -> int:
        """Write samples every `step_s` over `span`, build blocks, move them in; returns how
        many blocks (0 when cancelled). Raises RuntimeError (with the tool's words) if the
        writer or promtool fails.

        The OpenMetrics text is written by a child Python (`python -m console.demo.backfill`),
        not a thread of the console: a thread would hold the GIL against the console's own
        start-up (measured: first paint 3.2 s → 6 s)."""
        start, end = span
        staging = self.directory / "staging"
        shutil.rmtree(staging, ignore_errors=True)
        (staging / "blocks").mkdir(parents=True)
        source = staging / "history.om"
        self._run([sys.executable, "-m", "console.demo.backfill", str(source), f"{start:.3f}",
                   f"{end:.3f}", f"{step_s:g}"])
        if self.cancelled.is_set():
            return 0
        self._run([self.promtool, "tsdb", "create-blocks-from", "openmetrics",
                   "--max-block-duration=25h", str(source), str(staging / "blocks")])
        if self.cancelled.is_set():
            return 0
        self.data.mkdir(parents=True, exist_ok=True)
        moved = 0
        for block in sorted((staging / "blocks").iterdir()):
            if (block / "meta.json").exists():
                os.replace(block, self.data / block.name)
                moved += 1
        shutil.rmtree(staging, ignore_errors=True)
        return moved

    def _run(self, argv: list[str]) -> None:
        with self._lock:
            if self.cancelled.is_set():
                return
            self._proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                          preexec_fn=background)
        _, err = self._proc.communicate()
        code, self._proc = self._proc.returncode, None
        if code != 0 and not self.cancelled.is_set():
            raise RuntimeError(f"{Path(argv[0]).name} failed ({code}): "
                               f"{err.decode(errors='replace')[-500:]}")

    def cancel(self) -> None:
        """Stop a backfill under way (the console is quitting): promtool is killed."""
        self.cancelled.set()
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                self._proc.kill()


def write(path: Path, fams: Sequence[Family], start: float, end: float, step_s: float) -> None:
    """The OpenMetrics history of `fams` from `start` to `end`, a sample every `step_s`."""
    count = int((end - start) // step_s) + 1
    times = [start + i * step_s for i in range(count)]
    with path.open("w", encoding="utf-8") as out:
        out.writelines(openmetrics_lines(fams, times))


if __name__ == "__main__":  # the writer `History.fill` runs: FILE START END STEP
    write(Path(sys.argv[1]), families(fleet()), float(sys.argv[2]), float(sys.argv[3]),
          float(sys.argv[4]))
