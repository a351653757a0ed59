"""The `novacron` command: opens the console, or runs a subcommand.

Exit codes:
  0  ok (every target of an action succeeded)
  1  an action or check failed (the error says NOVA-xxxx, message and cause)
  2  bad usage or configuration (unknown option, ambiguous VM name, invalid config)
  3  refused before any backend call: read-only, not confirmed (--yes / --confirm NAME
     missing), another action running on the VM, or the backend cannot do it
  4  not found (no such VM or snapshot)
  5  timed out (e.g. a graceful shutdown the guest ignored: force-off is the next step)
With several targets, 1 wins over 3, 4 and 5; those only when every failure is of that kind.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence

from console import __version__
from console.config import ConfigError, Context, load_settings, resolve_context
from console.errors import NovaError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REFUSED, EXIT_NOT_FOUND = 0, 1, 2, 3, 4


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="novacron",
        description="Terminal operations console for VM fleets (libvirt/KVM, EC2, Azure).",
        epilog="With no subcommand, opens the console. With no configuration, the demo fleet.",
    )
    parser.add_argument("--version", action="version", version=f"novacron {__version__}")
    parser.add_argument("--context", "-c", help="context to use (default: default_context)")
    parser.add_argument("--config", help="config file (default: $NOVACRON_CONFIG or the "
                        "platform config dir's novacron/config.toml)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--read-only", action="store_true", help="refuse every mutating action")
    mode.add_argument("--write", action="store_true",
                      help="allow actions even in a context marked read_only, for this run")
    parser.add_argument("--wall", action="store_true",
                        help="wall display: read-only summary screens cycling for a NOC screen")
    parser.add_argument("--cycle", type=parse_duration, default=20.0, metavar="DURATION",
                        help="with --wall: time on each page, e.g. 20s, 1m (default 20s; 0 stops)")
    parser.add_argument("--theme", help="theme name (novacron-dark, novacron-light, "
                        "novacron-high-contrast, novacron-ansi)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    config = sub.add_parser("config", help="inspect the configuration")
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = config_sub.add_parser("check", help="validate the config and try each backend")
    check.set_defaults(func=cmd_config_check)

    from console.lab.cli import add_parser as add_lab_parser

    add_lab_parser(sub)

    vm = sub.add_parser("vm", help="VM inventory and actions")
    vm_sub = vm.add_subparsers(dest="vm_command", metavar="ACTION", required=True)
    from console.migration_cli import add_parsers as add_migration_parsers

    add_migration_parsers(sub, vm_sub)
    vm_list = vm_sub.add_parser("list", help="list VMs")
    vm_list.add_argument("--json", action="store_true", help="JSON output")
    vm_list.add_argument("--filter", default="", help="same syntax as the console's / filter")
    vm_list.set_defaults(func=cmd_vm_list)

    from console.cli_actions import add_parsers as add_action_parsers

    add_action_parsers(sub, vm_sub)  # `vm <action>` from the registry, and `audit`
    return parser


def _settings_and_context(args: argparse.Namespace) -> tuple[str, Context, bool]:
    from pathlib import Path

    settings, _path = load_settings(Path(args.config).expanduser() if args.config else None)
    name, context = resolve_context(settings, args.context)
    read_only = True if args.read_only else (False if args.write else context.read_only)
    return name, context, read_only


def cmd_config_check(args: argparse.Namespace) -> int:
    from console.config import config_path
    from console.fleet import Fleet
    from console.sources import build_backends

    path = args.config or config_path()
    name, context, read_only = _settings_and_context(args)
    print(f"config: {path} ({'found' if os.path.exists(path) else 'absent: demo fleet'})")
    print(f"context: {name} ({len(context.backends)} backends, read_only={read_only})")
    fleet = Fleet(name, build_backends(context, read_only=True), timeout_s=15)
    snapshot = asyncio.run(_poll_and_close(fleet))
    failed = 0
    for health in snapshot.health:
        if health.ok:
            count = sum(1 for vm in snapshot.vms if vm.backend == health.name)
            print(f"  ok    {health.name}: {count} VMs")
        else:
            failed += 1
            print(f"  FAIL  {health.name}: {health.error}")
    return EXIT_FAILED if failed else EXIT_OK


async def _poll_and_close(fleet: object) -> object:
    try:
        return await fleet.poll_once()  # type: ignore[attr-defined]
    finally:
        await fleet.stop()  # type: ignore[attr-defined]


def cmd_vm_list(args: argparse.Namespace) -> int:
    from console import query
    from console.fleet import Fleet
    from console.sources import build_backends

    name, context, _read_only = _settings_and_context(args)
    fleet = Fleet(name, build_backends(context, read_only=True))
    snapshot = asyncio.run(_poll_and_close(fleet))
    vms = query.sort_vms(query.filter_vms(snapshot.vms, args.filter), "name")  # type: ignore[attr-defined]
    if args.json:
        json.dump([vm_json(vm) for vm in vms], sys.stdout, indent=2, ensure_ascii=True)
        print()
    else:
        for vm in vms:
            print(f"{ascii_safe(vm.name):32} {vm.state.value:10} {ascii_safe(vm.host):16} "
                  f"{vm.vcpus:>4} {vm.memory_bytes // 2**20:>8} MiB  {ascii_safe(','.join(vm.tags))}")
    for health in snapshot.health:  # type: ignore[attr-defined]
        if not health.ok:
            print(f"novacron: warning: {health.name} is stale: {health.error}", file=sys.stderr)
    return EXIT_OK


def ascii_safe(text: str) -> str:
    """Text for a terminal: already sanitized at ingestion; this is the belt to those braces."""
    return "".join(ch if ch.isprintable() else "\ufffd" for ch in text)


def vm_json(vm: object) -> dict[str, object]:
    from dataclasses import asdict

    data = asdict(vm)  # type: ignore[call-overload]
    data["state"] = vm.state.value  # type: ignore[attr-defined]
    data["key"] = vm.key  # type: ignore[attr-defined]
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


def run_tui(args: argparse.Namespace) -> int:
    from console.app import NovaApp
    from console.fleet import Fleet
    from console.metrics_feed import MetricsFeed
    from console.sources import build_backends, build_metrics
    from console.wall_app import WallApp

    settings, _ = load_settings(None if not args.config else __import__("pathlib").Path(args.config))
    name, context, read_only = _settings_and_context(args)
    fleet = Fleet(name, build_backends(context, read_only=read_only),
                  interval_s=context.poll_interval_s)
    metrics = build_metrics(context)
    options = dict(production=context.production, keymap=settings.keys,
                   metrics_feed=MetricsFeed(metrics) if metrics else None,
                   theme=args.theme or context.theme or settings.ui.theme,
                   ascii=ascii_only(getattr(settings.ui, "ascii", False)))
    if getattr(args, "wall", False):
        app: NovaApp = WallApp(fleet, cycle_s=args.cycle, **options)  # always read-only
    else:
        app = NovaApp(fleet, read_only=read_only, **options)  # type: ignore[arg-type]
    app.run()
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    from console import logs
    from console.config import state_dir

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        logs.setup(state_dir())
        if getattr(args, "func", None) is None:
            return run_tui(args)
        return int(args.func(args))
    except ConfigError as exc:
        print(f"novacron: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except NovaError as exc:
        print(f"novacron: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Output piped into `head` and the like: stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
