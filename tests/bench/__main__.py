"""The bench runner: `python -m tests.bench [--quick] [--list] [NAME ...]`.

Discovers every `tests/bench/bench_*.py`, calls its `run()` and prints one table with the
columns `what | ours | baseline | target / verdict`. NAME selects modules (`table` or
`bench_table`); `--quick` sets `NOVACRON_BENCH_QUICK=1`, which benches may read to do less
(the table bench then measures 10k rows only). A module that raises `Skip` (or fails to
import, or crashes) gets a line saying so; the others still run. Exit status: 0 when every
bench ran or skipped itself and no verdict says FAIL/MISSED/SLOW, 1 otherwise.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from tests.bench import Skip

HEADERS = ("what", "ours", "baseline", "target / verdict")
BAD_VERDICTS = ("FAIL", "MISSED", "SLOW")


def discover() -> list[str]:
    """Names of the bench modules next to this file, in alphabetical order."""
    return sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))


def _cells(row: Sequence[object]) -> tuple[str, str, str, str]:
    values = [str(v) for v in row][:4]
    values += [""] * (4 - len(values))
    return values[0], values[1], values[2], values[3]


def run_module(name: str) -> tuple[list[tuple[str, str, str, str]], bool]:
    """The rows of one bench, and False when it broke (a skip is not a failure)."""
    try:
        module = importlib.import_module(f"tests.bench.{name}")
        run = getattr(module, "run", None)
        if run is None:
            return [("(no run() in this module)", "", "", "error")], False
        return [_cells(row) for row in run()], True
    except Skip as why:
        return [(f"skipped: {why}", "", "", "n/a")], True
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # a broken bench must not hide the others
        traceback.print_exc(file=sys.stderr)
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:100]
        return [(f"could not run: {reason}", "", "", "error")], False


def render(sections: list[tuple[str, list[tuple[str, str, str, str]]]]) -> str:
    rows = [row for _, body in sections for row in body]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(HEADERS)]
    widths[0] = max(widths[0], *(len(title) for title, _ in sections)) if sections else widths[0]

    def line(cells: Sequence[str]) -> str:
        return (f"{cells[0]:<{widths[0]}}  {cells[1]:>{widths[1]}}  {cells[2]:>{widths[2]}}  "
                f"{cells[3]}").rstrip()

    rule = "-" * (sum(widths) + 6)
    out = [line(HEADERS), rule]
    for title, body in sections:
        out.append(f"[{title}]")
        out.extend(line(r) for r in body)
    out.append(rule)
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="benches to run (default: all), e.g. table")
    parser.add_argument("--quick", action="store_true", help="smaller sizes where a bench allows")
    parser.add_argument("--list", action="store_true", help="list the benches and exit")
    args = parser.parse_args(argv)
    available = discover()
    if args.list:
        print("\n".join(available))
        return 0
    wanted = [n if n.startswith("bench_") else f"bench_{n}" for n in args.names] or available
    unknown = [n for n in wanted if n not in available]
    if unknown:
        parser.error(f"unknown bench {', '.join(unknown)}; available: {', '.join(available)}")
    if args.quick:
        os.environ["NOVACRON_BENCH_QUICK"] = "1"
    sections = []
    ok = True
    for name in wanted:
        started = time.monotonic()
        print(f"running {name} ...", file=sys.stderr, flush=True)
        rows, ran = run_module(name)
        elapsed = time.monotonic() - started
        ok = ok and ran and not any(r[3].upper().startswith(BAD_VERDICTS) or " FAIL" in r[3] for r in rows)
        sections.append((f"{name[len('bench_'):]} ({elapsed:.0f} s)", rows))
    print(render(sections))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
