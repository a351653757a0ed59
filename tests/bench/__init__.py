"""Benchmarks, run by `make bench` (`python -m tests.bench`); outside pytest's `testpaths`.

Each `bench_*.py` module here has a `run()` returning rows `(label, ours, baseline, verdict)`
(a fourth column is optional). A module that cannot run here (no root, no service, no lab)
raises `Skip("why")` from `run()` or returns a `skipped` row; the runner prints it and goes on.
"""

from __future__ import annotations


class Skip(Exception):
    """Raised by a bench's `run()` when it cannot run on this machine; the message says why."""
