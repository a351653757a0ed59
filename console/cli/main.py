"""The `novacron` command: opens the console, or runs a subcommand.

Each command group is a module of this package with an `add_parsers`; exit statuses are
`console.cli.exit.ExitStatus`, one mapping from error to status for every command.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from console import __version__, logs
from console.cli import actions, completion, inventory, migration, provision, serve, store
from console.cli.common import parse_duration
from console.cli.exit import ExitStatus, exit_for
from console.config import ConfigError, state_dir
from console.errors import NovaError
from console.lab import cli as lab_cli


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
    lab_cli.add_parser(sub)
    vm = sub.add_parser("vm", help="VM inventory and actions")
    vm_sub = vm.add_subparsers(dest="vm_command", metavar="ACTION", required=True)
    inventory.add_parsers(sub, vm_sub)
    migration.add_parsers(sub, vm_sub)
    provision.add_parsers(sub, vm_sub)
    actions.add_parsers(sub, vm_sub)  # `vm <action>` from the registry, and `audit`
    store.add_parsers(sub)
    serve.add_parser(sub)
    completion.add_parser(sub, parser)
    return parser


def run_tui(args: argparse.Namespace) -> int:
    """Open the console. Its module (Textual, the screens) is imported only now: every other
    command, and `--version`, starts without it."""
    return int(importlib.import_module("console.cli.tui").run(args))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        logs.setup(state_dir())
        if getattr(args, "func", None) is None:
            return run_tui(args)
        return int(args.func(args))
    except ConfigError as exc:
        print(f"novacron: {exc}", file=sys.stderr)
        return ExitStatus.USAGE
    except NovaError as exc:
        print(f"novacron: {exc}", file=sys.stderr)
        return exit_for(exc)
    except KeyboardInterrupt:
        return ExitStatus.INTERRUPTED
    except BrokenPipeError:
        # Output piped into `head` and the like: stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitStatus.OK


if __name__ == "__main__":
    sys.exit(main())
