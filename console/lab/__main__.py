"""`python -m console.lab up|status|down`: the lab without the main CLI."""

from __future__ import annotations

import argparse
import sys

from console.lab.cli import add_parser


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="novacron")  # help reads as the main CLI will
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["lab", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
