"""Plain-text formatting of sizes, durations and ages for tables and cards."""

from __future__ import annotations

import functools

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


@functools.lru_cache(maxsize=4096)
def human_bytes(value: float | None) -> str:
    """1536 → '1.5 KiB'; whole numbers lose the decimal ('4 GiB'). Remembered: a table of
    100k VMs has a handful of distinct sizes."""
    if value is None:
        return "-"
    size = float(value)
    for unit in _UNITS:
        if abs(size) < 1024 or unit == _UNITS[-1]:
            text = f"{size:.1f}".rstrip("0").rstrip(".")
            return f"{text} {unit}"
        size /= 1024
    return f"{size:.1f} {_UNITS[-1]}"


def human_duration(seconds: float | None) -> str:
    """A short age: '4s', '3m', '2h', '5d'."""
    if seconds is None:
        return "-"
    return _duration(max(0, int(seconds)))


@functools.lru_cache(maxsize=4096)
def _duration(s: int) -> str:
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def coarse_age(seconds: float | None) -> str:
    """An age that changes rarely: '<10s', '10s', '20s' … '50s', then minutes, hours, days.

    The header redraws only when this text changes, so a console polling every few seconds
    shows a constant '<10s' and writes nothing between real changes.
    """
    if seconds is None:
        return "-"
    s = max(0, int(seconds))
    if s < 10:
        return "<10s"
    if s < 60:
        return f"{s // 10 * 10}s"
    return human_duration(s)


SPARK_BLOCKS = "▁▂▃▄▅▆▇█"
SPARK_ASCII = "_.-=^"


def sparkline(values: list[float], width: int = 8, *, low: float = 0.0, high: float = 1.0,
              ascii_only: bool = False) -> str:
    """The last `width` values as one line of blocks on a fixed scale ('' when no data)."""
    if not values:
        return ""
    blocks = SPARK_ASCII if ascii_only else SPARK_BLOCKS
    span = (high - low) or 1.0
    chars = []
    for value in values[-width:]:
        level = max(0.0, min(1.0, (value - low) / span))
        chars.append(blocks[min(len(blocks) - 1, int(level * len(blocks)))])
    return "".join(chars)
