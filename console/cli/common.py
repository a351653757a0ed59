"""What every command shares: the chosen context, one poll of the fleet, terminal-safe text,
and the error → exit status rule applied when a command fails."""

from __future__ import annotations

import argparse
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from console.config import Context, load_settings, resolve_context
from console.fleet.polling import Fleet
from console.fleet.sources import build_backends
from console.models import VM, FleetSnapshot


def open_context(args: argparse.Namespace) -> tuple[str, Context, bool]:
    """(name, context, read_only) for this run: `--context`, `--config`, and `--read-only`
    (always wins) or `--write` (overrides a read-only context)."""
    settings, _path = load_settings(Path(args.config).expanduser() if args.config else None)
    name, context = resolve_context(settings, args.context)
    read_only = True if args.read_only else (False if args.write else context.read_only)
    return name, context, read_only


def fleet_of(name: str, context: Context, *, read_only: bool, timeout_s: float = 30) -> Fleet:
    """The context's sources as a fleet (read-only contexts open read-only connections)."""
    return Fleet(name, build_backends(context, read_only=read_only), timeout_s=timeout_s)


async def poll_once(fleet: Fleet) -> FleetSnapshot:
    """One sweep of every source, then close them."""
    try:
        return await fleet.poll_once()
    finally:
        await fleet.stop()


def ascii_safe(text: str) -> str:
    """Text for a terminal: already sanitized at ingestion; this is the belt to those braces."""
    return "".join(ch if ch.isprintable() else "\ufffd" for ch in text)


def vm_json(vm: VM) -> dict[str, Any]:
    data = asdict(vm)
    data["state"] = vm.state.value
    data["key"] = vm.key
    return data


def parse_duration(text: str) -> float:
    """'20s', '1m', '90' (seconds) → seconds."""
    text = text.strip().lower()
    scale = {"s": 1, "m": 60, "h": 3600}.get(text[-1:])
    try:
        value = float(text[:-1] if scale else text) * (scale or 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 20s, 1m)") from None
    if value < 0:
        raise argparse.ArgumentTypeError("a duration cannot be negative")
    return value


def ascii_only(settings_ascii: bool) -> bool:
    """ASCII drawing: `ui.ascii`, `NOVACRON_ASCII=1`, or the Linux console (its font is small)."""
    env = os.environ.get("NOVACRON_ASCII")
    if env is not None:
        return env.strip().lower() not in ("", "0", "false", "no")
    return settings_ascii or os.environ.get("TERM") == "linux"
