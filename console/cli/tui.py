"""Opening the console itself (interactive or `--wall`): Textual loads only here, so the
other commands and `--version` stay quick."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from console.app import NovaApp
from console.cli.common import ascii_only, open_context
from console.cli.exit import ExitStatus
from console.config import Context, Settings, demo_context, is_builtin_demo, load_settings, state_dir
from console.demo.no_prometheus import NoPrometheus
from console.demo.prometheus import DemoPrometheus, binaries
from console.fleet.metrics_feed import MetricsFeed
from console.fleet.polling import Fleet
from console.fleet.sources import build_backends, build_metrics
from console.wall_app import WallApp

DEMO_METRICS_ENV = "NOVACRON_DEMO_PROMETHEUS"
"""`0` opens the demo without starting its Prometheus (the metrics screen then says so)."""


@contextmanager
def demo_metrics(settings: Settings, name: str, context: Context) -> Iterator[
        tuple[Context, MetricsFeed | None]]:
    """The context to open and its metrics feed: for the built-in demo, its own Prometheus,
    started here and stopped on the way out (or a stand-in that says how to get one)."""
    if not is_builtin_demo(settings, name):
        metrics = build_metrics(context)
        yield context, MetricsFeed(metrics) if metrics else None
        return
    tools = binaries() if os.environ.get(DEMO_METRICS_ENV, "1") != "0" else None
    if tools is None:
        yield context, MetricsFeed([NoPrometheus()])
        return
    prometheus = DemoPrometheus(state_dir(), tools)
    try:
        context = demo_context(prometheus.start())
        yield context, MetricsFeed(build_metrics(context))
    finally:
        prometheus.stop()


def run(args: argparse.Namespace) -> ExitStatus:
    """Open the console; when it closes asking for another context (the lab dialog's "Open
    the lab context"), open that one, re-reading the config the lab just wrote."""
    while (next_context := _run_once(args)) is not None:
        args.context = next_context
    return ExitStatus.OK


def _run_once(args: argparse.Namespace) -> str | None:
    settings, _ = load_settings(Path(args.config).expanduser() if args.config else None)
    name, context, read_only = open_context(args)
    with demo_metrics(settings, name, context) as (context, feed):
        fleet = Fleet(name, build_backends(context, read_only=read_only),
                      interval_s=context.poll_interval_s)
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
        return app.run()
