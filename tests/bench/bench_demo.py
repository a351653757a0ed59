"""The demo's first ten seconds: `make run` (the real `novacron`, no configuration, on a
pseudo-terminal) to first paint, with and without the demo's own Prometheus; and, with it,
start to the first figure Prometheus can give the console (hosts' CPU used), on a cold state
directory (the day of history not made yet) and a warm one (made by the previous start).

Baseline: the same console with `NOVACRON_DEMO_PROMETHEUS=0` (no child process at all);
target: the first paint no slower than 10 % beyond it, figures within 5 s of start (issue 16).
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from console.demo.prometheus import DemoPrometheus, binaries
from tests.bench import Skip
from tests.bench import bench_startup as startup

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 2 if os.environ.get("NOVACRON_BENCH_QUICK") else 4


def first_paint_s(state: Path, *, prometheus: bool) -> float:
    """Seconds from exec of `novacron` to the inventory's row count on its screen."""
    return startup.first_paint_s(ROOT, state=state,
                                 env={"NOVACRON_DEMO_PROMETHEUS": "1" if prometheus else "0"})


def first_figures_s(state: Path, tools: tuple[str, str], limit_s: float = 90) -> float:
    """Seconds from `DemoPrometheus.start()` to Prometheus answering hosts' CPU used for all
    five demo hosts (what the hosts screen and the sparklines need)."""
    prometheus = DemoPrometheus(state, tools)
    started = time.perf_counter()
    url = prometheus.start()
    query = urllib.parse.urlencode({"query": 'count(sum by (instance) (1 - rate('
                                    'node_cpu_seconds_total{mode="idle"}[5m])))'})
    try:
        while time.perf_counter() - started < limit_s:
            try:
                with urllib.request.urlopen(f"{url}/api/v1/query?{query}", timeout=2) as resp:
                    result = json.load(resp)["data"]["result"]
                if result and result[0]["value"][1] == "5":
                    return time.perf_counter() - started
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"no figures within {limit_s:g} s")
    finally:
        prometheus.stop()


def run() -> list[tuple[str, str, str, str]]:
    tools = binaries()
    if tools is None:
        raise Skip("prometheus/promtool not installed")
    with tempfile.TemporaryDirectory() as home:
        state = Path(home) / "state"
        cold = first_figures_s(state, tools)  # also makes the day of history for what follows
        warm = statistics.median(first_figures_s(state, tools) for _ in range(ROUNDS))
        without = statistics.median(first_paint_s(state, prometheus=False) for _ in range(ROUNDS))
        with_prom = statistics.median(first_paint_s(state, prometheus=True) for _ in range(ROUNDS))

    def paint_verdict() -> str:
        return "ok (not slower)" if with_prom <= without * 1.10 else "SLOW"

    def figures_verdict(seconds: float) -> str:
        return "ok (< 5 s)" if seconds < 5 else "MISSED (5 s)"

    return [
        ("demo: start to first paint, with its Prometheus (pty, median)", f"{with_prom:.2f} s",
         f"{without:.2f} s (without Prometheus)", paint_verdict()),
        ("demo: start to hosts' CPU figures, warm state (median)", f"{warm:.2f} s", "n/a",
         figures_verdict(warm)),
        ("demo: start to hosts' CPU figures, first run ever (cold)", f"{cold:.2f} s", "n/a",
         figures_verdict(cold)),
    ]
