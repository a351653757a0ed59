"""The event loop's turn at the GIL while a worker thread shapes a large poll.

A thread waiting for the GIL gets it only once the holder has run for the switch interval
(`sys.getswitchinterval()`, 5 ms by default). The event loop gives the GIL up at every turn
(each `select`), so while a worker decodes a 100,000-VM answer, every turn of the loop could
wait up to 5 ms to get it back, a few turns per key: j/k took 5 ms at the median but 28 ms at
the 95th percentile during polls. The console runs with a shorter interval (`SWITCH_S`); the
decoding thread is switched out more often, which costs it little (it is one thread among
the loop and idle workers).
"""

from __future__ import annotations

import sys

SWITCH_S = 0.001


def favour_the_loop() -> float:
    """Shorten the switch interval to `SWITCH_S`; returns the one before, for `restore`."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(min(before, SWITCH_S))
    return before


def restore(before: float) -> None:
    sys.setswitchinterval(before)
