"""Wall mode (`novacron --wall`): a summary of big tiles, cycling with the problem VMs, the hosts
and the migration board, for a NOC screen that runs for days and touches nothing.

The pages are the ordinary screens with every binding removed (`wall_variant`), nothing
focusable and no cursor, so only `q` and the page keys the app binds respond. Everything shown
is derived from the latest snapshot; nothing accumulates, so memory stays flat.
"""

from __future__ import annotations

import contextlib
import importlib
import types
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Grid
from textual.screen import Screen
from textual.widgets import Label

from console.fleet.capacity import host_capacity
from console.models import VM, FleetSnapshot, HostState, VMState
from screens.console_screen import ConsoleScreen
from screens.hosts import HostsScreen
from screens.inventory import InventoryScreen
from widgets.format import coarse_age, human_bytes
from widgets.status_header import StatusHeader
from widgets.tile import Tile

TileValue = tuple[str, str, str]
"""(big value, detail text, level)."""

MAX_LIST_LINES = 4
"""Migrations and alerts listed in a tile (the rest are counted, never accumulated)."""
_ACTIVE_MIGRATION_PHASES = frozenset({"queued", "running", "postcopy"})


def is_problem(vm: VM) -> bool:
    """What the wall's inventory page shows: anything not running, or not known to be."""
    return vm.stale or vm.state is not VMState.RUNNING


@dataclass(frozen=True, slots=True)
class WallSummary:
    """Every tile's content, computed from one snapshot (pure, unit-testable)."""

    tiles: dict[str, TileValue]


def _pct(part: float, whole: float) -> str:
    return f"{round(100 * part / whole)}%" if whole else "-"


def _first(items: Iterable[str], total: int) -> str:
    lines = list(items)[:MAX_LIST_LINES]
    if total > len(lines):
        lines.append(f"+{total - len(lines)} more")
    return "\n".join(lines)


def summarize(snapshot: FleetSnapshot, migrations: list[Any] | None,
              alerts: list[Any] | None, now: float) -> WallSummary:
    """Tile values for `snapshot`; `None` migrations/alerts means the console has no such feed."""
    states = Counter(vm.state for vm in snapshot.vms)
    stale_vms = sum(1 for vm in snapshot.vms if vm.stale)
    total = len(snapshot.vms)
    running = states[VMState.RUNNING]
    stopped = states[VMState.STOPPED]
    paused = states[VMState.PAUSED] + states[VMState.SUSPENDED] + states[VMState.PENDING]
    broken = states[VMState.CRASHED] + states[VMState.UNKNOWN]
    tiles: dict[str, TileValue] = {
        "vms-running": (str(running), f"of {total} VMs ({_pct(running, total)})",
                        "ok" if running else "idle"),
        "vms-stopped": (str(stopped), f"+{paused} paused", "idle"),
        "vms-crashed": (str(broken), "crashed/unknown", "crit" if broken else "ok"),
        "vms-stale": (str(stale_vms), "last poll failed" if stale_vms else "all live",
                      "stale" if stale_vms else "ok"),
    }

    up = [h for h in snapshot.hosts if h.state is HostState.UP and not h.stale]
    stale = [h for h in snapshot.hosts if h.state is HostState.STALE]
    down = [h for h in snapshot.hosts if h.state is HostState.DOWN]
    tiles["hosts-up"] = (str(len(up)), f"of {len(snapshot.hosts)} hosts",
                         "ok" if len(up) == len(snapshot.hosts) and up else "warn")
    oldest = max((h.age_s for h in stale), default=0.0)
    tiles["hosts-stale"] = (
        str(len(stale)),
        (", ".join(h.name for h in stale[:3]) + f" ({coarse_age(oldest)})") if stale else "none",
        "stale" if stale else "ok")
    tiles["hosts-down"] = (str(len(down)), ", ".join(h.name for h in down[:3]) or "none",
                           "crit" if down else "ok")

    caps = [c for c in host_capacity(snapshot) if c.host.state is HostState.UP and c.host.memory_bytes]
    mem_total = sum(c.host.memory_bytes for c in caps)
    mem_free = sum(max(0, c.memory_headroom) for c in caps)
    cpus = sum(c.host.cpus for c in caps)
    vcpus = sum(c.vcpus_allocated for c in caps)
    ratio = mem_free / mem_total if mem_total else 0.0
    tiles["capacity"] = (
        _pct(mem_free, mem_total),
        f"{human_bytes(mem_free)} mem free\nvCPU {vcpus}/{cpus} allocated" if mem_total
        else "no live host",
        "idle" if not mem_total else "crit" if ratio < 0.10 else "warn" if ratio < 0.25 else "ok")

    if migrations is None:
        tiles["migrations"] = ("-", "none (no migration tracker)", "idle")
    else:
        active = [m for m in migrations if getattr(
            m, "active", str(getattr(m, "phase", "running")) in _ACTIVE_MIGRATION_PHASES)]
        lines = (_migration_line(m) for m in active)
        tiles["migrations"] = (str(len(active)), _first(lines, len(active)) or "none running",
                               "warn" if active else "ok")

    if alerts is None:
        tiles["alerts"] = ("-", "none (no alert source)", "idle")
    else:
        firing = [a for a in alerts if str(getattr(a, "state", "firing")) == "firing"]
        lines = (_alert_line(a) for a in firing)
        tiles["alerts"] = (str(len(firing)), _first(lines, len(firing)) or "none firing",
                           "crit" if firing else "ok")
    return WallSummary(tiles)


def _migration_line(m: Any) -> str:
    """`vm src>dst 42%`: from a tracker state (`percent`) or a raw `Migration` (bytes)."""
    total = getattr(m, "data_total", 0) or 0
    done = getattr(m, "data_processed", 0) or 0
    percent = getattr(m, "percent", None)
    if percent is None and total:
        percent = 100 * done / total
    progress = f"{min(100, round(percent))}%" if percent is not None else "..."
    name = getattr(m, "vm_name", "") or getattr(m, "vm_id", "?")
    return f"{name} {getattr(m, 'source', '?')}>{getattr(m, 'target', '?')} {progress}"


def _alert_line(a: Any) -> str:
    where = getattr(a, "host", "") or getattr(a, "vm_name", "")
    severity = getattr(a, "severity", "")
    return " ".join(x for x in (severity and f"[{severity}]", getattr(a, "name", "?"), where) if x)


def _items(source: Any, *names: str) -> list[Any] | None:
    """A list from whatever the app exposes (an iterable, or an object with one of `names`)."""
    if source is None:
        return None
    for name in names:
        attr = getattr(source, name, None)
        if attr is not None:
            with contextlib.suppress(Exception):
                return list(attr() if callable(attr) else attr)
    with contextlib.suppress(TypeError):
        return list(source)
    return None


def app_migrations(app: Any) -> list[Any] | None:
    """Migrations from the app's tracker, if the console has one (None: no such feature)."""
    tracker = getattr(app, "migrations", None) or getattr(app, "migration_tracker", None)
    if tracker is None:
        with contextlib.suppress(Exception):  # the board module makes the app's one tracker
            tracker = importlib.import_module("screens.migrations").tracker_for(app)
    return _items(tracker, "states", "active", "running", "migrations", "all")


def app_alerts(app: Any, snapshot: FleetSnapshot) -> list[Any] | None:
    """Firing alerts from the snapshot or the app, if anything provides them."""
    found = getattr(snapshot, "alerts", None)
    if found is not None:
        return list(found)
    return _items(getattr(app, "alerts", None), "firing", "alerts", "all")


TILES = (
    ("vms-running", "VMs running"), ("vms-stopped", "VMs stopped"),
    ("vms-crashed", "VMs crashed"), ("vms-stale", "VMs stale"),
    ("hosts-up", "Hosts up"), ("hosts-stale", "Hosts stale"),
    ("hosts-down", "Hosts down"), ("capacity", "Mem headroom"),
    ("migrations", "Migrations"), ("alerts", "Alerts firing"),
)


PAGE_LABELS = {"wall": "summary", "inventory": "problem VMs"}


class WallScreen(ConsoleScreen):
    """Page 1 of the wall: the tiles."""

    BINDINGS: ClassVar[list[BindingType]] = []
    AUTO_FOCUS = None

    DEFAULT_CSS = """
    WallScreen #tiles {
        grid-size: 4 3;
        grid-gutter: 0 1;
        height: 1fr;
    }
    WallScreen #tile-migrations, WallScreen #tile-alerts { column-span: 2; }
    WallScreen #wall-footer { height: 1; color: $foreground-muted; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__(name="wall")

    def compose(self) -> ComposeResult:
        yield StatusHeader()
        with Grid(id="tiles"):
            for tile_id, title in TILES:
                yield Tile(title, id=f"tile-{tile_id}")
        yield Label(wall_footer(self.app), id="wall-footer", markup=False)

    def on_mount(self) -> None:
        self.watch(self.app, "snapshot", self._on_snapshot, init=True)

    def _on_snapshot(self, snapshot: FleetSnapshot | None) -> None:
        if snapshot is None:
            return
        now = getattr(self.app, "clock", None)
        summary = summarize(snapshot, app_migrations(self.app), app_alerts(self.app, snapshot),
                            now() if callable(now) else snapshot.taken_at)
        for tile_id, (value, detail, level) in summary.tiles.items():
            self.query_one(f"#tile-{tile_id}", Tile).show(value, detail, level)


def wall_footer(app: Any) -> str:
    pages = getattr(app, "wall_pages", ())
    keys = "  ".join(f"{n} {PAGE_LABELS.get(page, page)}" for n, page in enumerate(pages, 1))
    cycle = getattr(app, "cycle_s", 0)
    every = f"  next page every {cycle:g}s" if cycle else ""
    return f"WALL (read-only)  {keys}  q quit{every}"


# -- the other pages: ordinary screens without bindings, focus or cursor ---------------------


def wall_variant(screen_cls: type[Screen[Any]], **namespace: Any) -> type[Screen[Any]]:
    """A subclass of `screen_cls` that binds nothing and focuses nothing.

    `inherit_bindings=False` drops every binding of every base class, including any an
    engineer adds to the screen later; the wall screens' tables are not focusable either, so
    no widget binding (cursor keys, `enter`) is in the chain.
    """

    def body(ns: dict[str, Any]) -> None:
        ns.update(BINDINGS=[], AUTO_FOCUS=None, **namespace)
        ns.update(on_mount=_make_on_mount(screen_cls), check_action=_refuse_action)

    return types.new_class(f"Wall{screen_cls.__name__}", (screen_cls,),
                           {"inherit_bindings": False}, body)


def _refuse_action(self: Screen[Any], action: str, parameters: tuple[object, ...]) -> bool:
    """No screen action runs on a wall page, whatever binds it (keys added at run time too)."""
    return False


def _make_on_mount(base: type[Screen[Any]]) -> Callable[[Screen[Any]], None]:
    """Textual calls every class's `on_mount` in the MRO, so this one only adds to `base`'s."""

    def on_mount(self: Screen[Any]) -> None:
        for widget in self.query("*"):
            widget.can_focus = False
        self.set_focus(None)

    return on_mount


class _ProblemMixin:
    """Turns the inventory into "VMs that need a look": not running, stale or crashed."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[call-arg]
        self._match = is_problem
        self.sort_column = "state"

    def _update_summary(self) -> None:
        total = len(self._vms)  # type: ignore[attr-defined]
        shown = len(self._shown)  # type: ignore[attr-defined]
        text = f"problem VMs (not running, stale or crashed): {shown} of {total}"
        label = self.query_one("#summary", Label)  # type: ignore[attr-defined]
        if str(label.content) != text:
            label.update(text)


ProblemInventory = wall_variant(types.new_class(
    "ProblemInventoryScreen", (_ProblemMixin, InventoryScreen)))
WallHosts = wall_variant(HostsScreen)


def migration_board() -> type[Screen[Any]] | None:
    """The migration board, if the console has one (another screen module)."""
    try:
        module = importlib.import_module("screens.migrations")
    except ImportError:
        return None
    for name in ("MigrationsScreen", "MigrationBoardScreen", "MigrationBoard"):
        cls = getattr(module, name, None)
        if isinstance(cls, type) and issubclass(cls, Screen):
            return wall_variant(cls)
    return None


def wall_modes() -> dict[str, Callable[[], Screen[Any]]]:
    """The pages in cycling order (mode name → screen factory)."""
    modes: dict[str, Callable[[], Screen[Any]]] = {
        "wall": WallScreen,
        "inventory": ProblemInventory,
        "hosts": WallHosts,
    }
    board = migration_board()
    if board is not None:
        modes["migrations"] = board
    return modes

