"""What a screen may use of the app it runs in, typed: `console_app(self.app)`.

`console.app.NovaApp` provides all of it (the wall app too). Screens import this protocol,
never the app module (which imports the screens), so the types stay checked without a circle.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Protocol, cast

from textual.app import App

from console.actions.dispatcher import Dispatcher, Target
from console.actions.registry import ActionSpec
from console.config import Context
from console.fleet.metrics_feed import MetricsFeed
from console.fleet.metrics_history import MetricsHistory
from console.fleet.polling import Fleet
from console.migration.tracker import MigrationTracker
from console.models import Alert, FleetSnapshot
from console.store import Activity, Store


class ConsoleApp(Protocol):
    snapshot: FleetSnapshot | None
    """The latest fleet snapshot (None until the first one arrives)."""
    fleet: Fleet
    dispatcher: Dispatcher | None
    """The one door to mutating calls (None until the store is open)."""
    store: Store | None
    """The audit store (None when it could not be opened: actions are then refused)."""
    migrations: MigrationTracker | None
    """The migration tracker, made by the board on first use."""
    read_only: bool
    ascii: bool
    context_config: Context | None
    """The context's settings (templates, overcommit limits, spread_by), when known."""
    metrics: MetricsHistory
    metrics_feed: MetricsFeed | None
    usage_error: str
    """Why the feed's usage figures (CPU trends) could not be had; "" when they were."""
    alerts: list[Alert] | None
    activity: deque[tuple[str, Activity]]
    """The last events of the store's activity feed, oldest first, with the local time
    each was seen ('14:02:11')."""
    activity_count: int
    """How many events have arrived since start (changes whenever `activity` does)."""

    def open_action_screen(self, spec: ActionSpec, target: Target, origin: str = "tui") -> None:
        """The screen a spec `opens` (snapshots, the migrate dialog), for one VM."""
        ...


def console_app(app: App[Any]) -> ConsoleApp:
    """`app` as the console it is (a cast: NovaApp satisfies `ConsoleApp`)."""
    return cast(ConsoleApp, app)
