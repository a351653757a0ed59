"""The `novacron` command: one module per command group; `main.main` parses and runs them.

`run` here is the installed entry point. `novacron --version` answers from it at once;
anything else loads the commands (the action registry, every installed backend kind's config
model, the store), which a version check has no use for.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from console import __version__


def run(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--version"]:
        print(f"novacron {__version__}")
        return 0
    return int(importlib.import_module("console.cli.main").main(args))
