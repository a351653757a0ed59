"""Opening the console itself (interactive or `--wall`): Textual loads only here, so the
other commands and `--version` stay quick."""

from __future__ import annotations

import argparse
from pathlib import Path

from console.app import NovaApp
from console.cli.common import ascii_only, open_context
from console.cli.exit import ExitStatus
from console.config import load_settings
from console.fleet.metrics_feed import MetricsFeed
from console.fleet.polling import Fleet
from console.fleet.sources import build_backends, build_metrics
from console.wall_app import WallApp


def run(args: argparse.Namespace) -> ExitStatus:
    settings, _ = load_settings(Path(args.config).expanduser() if args.config else None)
    name, context, read_only = open_context(args)
    fleet = Fleet(name, build_backends(context, read_only=read_only),
                  interval_s=context.poll_interval_s)
    metrics = build_metrics(context)
    feed = MetricsFeed(metrics) if metrics else None
    theme = args.theme or context.theme or settings.ui.theme
    ascii = ascii_only(settings.ui.ascii)
    app: NovaApp
    if args.wall:  # always read-only
        app = WallApp(fleet, cycle_s=args.cycle, production=context.production,
                      keymap=settings.keys, metrics_feed=feed, theme=theme, ascii=ascii,
                      store=context.store)
    else:
        app = NovaApp(fleet, read_only=read_only, production=context.production,
                      keymap=settings.keys, metrics_feed=feed, theme=theme, ascii=ascii,
                      context_config=context, store=context.store)
    app.run()
    return ExitStatus.OK
