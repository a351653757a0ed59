"""Benchmark: what the operator feels — keypress → repaint latency while the fleet polls.

For each case (a real fleet behind real servers), the console (`NovaApp`, headless through
`App.run_test()` at 160x48) polls every 5 s while keys arrive the way the terminal driver
delivers them (`driver.send_message` of a `Key` event, the pilot's own path, but without
waiting for the app to go idle first): `j`/`k` moves, `/` and a typed filter (each
character), `escape` (the filter cleared: the full list again), and a screen switch (`2` hosts,
`1` back). A key's latency runs from sending it to the first frame the app hands to its driver
(`App.post_display_hook`) in which the key's effect is visible (cursor on the next row, the
character in the filter box, the other screen current, the full list back). Keys are spaced
20-120 ms apart at random, so some land during a poll (escape too, after the filtered list
is shown: pressed within the same 1/60 s it waited for Textual's next frame slot).

Beside it a loop-lag probe (a task sleeping 5 ms, measuring how late it wakes) gives the
longest event-loop stall of the session, and for the largest case the inventory's first paint
is timed from a cold start (empty state directory, first poll) and from the stored snapshot
(the store holds the last sweep; the source answers only after it).

Cases: (a) Prometheus 2,000 hosts / 100,000 VMs (`tests/integration/prometheus_fixture`),
(b) libvirt test-driver hosts over TCP (`NOVACRON_BENCH_LIBVIRT_HOSTS`, default 200, spread
over private libvirtd daemons as in `tests/integration/libvirtd_fixture`), (c) the demo fleet
(in-process test driver), idle.

Adding a backend's row (the hook): put a module `tests/bench/latency_<kind>.py` next to this
one with a function `cases() -> list[Case]`; each `Case` opens its servers in `open(stack)`
(an `ExitStack` closed after the case) and returns the backends and the VM count to wait for.
Nothing here needs editing. `NOVACRON_BENCH_LATENCY=prometheus,demo` picks cases by name;
`NOVACRON_BENCH_SECONDS` sets each session's length (default 30 s, 15 s with `--quick`; a
session goes on until the fleet has published 3 snapshots); `NOVACRON_BENCH_NO_PAINT=1` skips
the first-paint runs; `NOVACRON_BENCH_PROMETHEUS_URL` reuses a Prometheus already backfilled
with the default fleet (`python -m tests.bench.bench_latency --serve` keeps one up).

Headless: frames are composed (every changed line rendered) but not written to a terminal;
`bench_table` measures the bytes and CPU of writing them on a pty.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.bench import Skip

HERE = Path(__file__).resolve().parent
QUICK = bool(os.environ.get("NOVACRON_BENCH_QUICK"))
SECONDS = float(os.environ.get("NOVACRON_BENCH_SECONDS") or (15 if QUICK else 30))
SIZE = (160, 48)
TARGET_P95_MS = 17.0
TARGET_STALL_MS = 50.0
TARGET_CACHED_PAINT_S = 1.0
PROBE_S = 0.005
MIN_POLLS = 3
MAX_SESSION_S = 240.0


@dataclass
class Case:
    """One row group: a fleet behind real servers, polled every `interval_s`."""

    name: str
    """Short name for `NOVACRON_BENCH_LATENCY` (e.g. `prometheus`)."""
    label: str
    """What the rows say, e.g. `prometheus, 2,000 hosts / 100,000 VMs`."""
    open: Callable[[contextlib.ExitStack], tuple[Callable[[], list[Any]], int]]
    """Start the servers (registering their clean-up on the stack); return a function making
    fresh backends for them (each console run closes its own) and how many VMs a full sweep
    lists."""
    filter_text: str
    """What the operator types after `/` (should match some, not all, VMs)."""
    interval_s: float = 5.0
    timeout_s: float = 300.0
    first_paint: bool = False
    """Also time the first paint, cold and from the stored snapshot."""


# -- measuring -------------------------------------------------------------------------------


class LoopLag:
    """A task that sleeps `PROBE_S` and records how late it wakes: the event loop's stalls.

    Each lag is also recorded as the part of it this process spent on a CPU (all its threads):
    on a machine shared with other jobs a wake-up can be late because the OS ran someone
    else, which says nothing about this code; a lag the process spent computing does."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.busy: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            started, cpu = time.perf_counter(), time.process_time()
            await asyncio.sleep(PROBE_S)
            lag = time.perf_counter() - started - PROBE_S
            self.lags.append(lag)
            self.busy.append(max(0.0, min(lag, time.process_time() - cpu - PROBE_S)))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @property
    def worst(self) -> float:
        return max(self.lags, default=0.0)


class Frames:
    """Times from a key to the first frame showing its effect (`post_display_hook`)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._waiting: tuple[Callable[[], bool], asyncio.Future[float]] | None = None
        app.post_display_hook = self._frame  # an instance attribute: the app calls this one

    def _frame(self) -> None:
        waiting = self._waiting
        if waiting is not None and not waiting[1].done():
            with contextlib.suppress(Exception):
                if waiting[0]():
                    waiting[1].set_result(time.perf_counter())

    async def press(self, key: str, shown: Callable[[], bool], timeout_s: float = 120) -> float:
        """Send `key` as the driver would; seconds until a frame where `shown()` holds."""
        from textual import events

        char = {"slash": "/", "escape": None}.get(key, key if len(key) == 1 else None)
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting = (shown, future)
        event = events.Key(key, char)
        event.set_sender(self.app)
        started = time.perf_counter()
        self.app._driver.send_message(event)
        try:
            return await asyncio.wait_for(future, timeout_s) - started
        finally:
            self._waiting = None

    async def until(self, shown: Callable[[], bool], timeout_s: float) -> float:
        """The perf_counter of the first frame where `shown()` holds (no key)."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting = (shown, future)
        try:
            if shown():
                self.app.screen.refresh()
            return await asyncio.wait_for(future, timeout_s)
        finally:
            self._waiting = None


@dataclass
class Session:
    """What one run of the console measured."""

    keys: dict[str, list[float]] = field(default_factory=dict)
    lags: list[float] = field(default_factory=list)
    busy: list[float] = field(default_factory=list)
    polls: int = 0
    filter_applied: list[float] = field(default_factory=list)
    load: str = ""

    def all_keys(self) -> list[float]:
        return [t for times in self.keys.values() for t in times]


@contextlib.contextmanager
def state_dir() -> Iterator[Path]:
    """A fresh `NOVACRON_STATE_DIR` (the store: audit, locks, stored snapshot)."""
    path = Path(tempfile.mkdtemp(prefix="nc-bench-latency-"))
    before = os.environ.get("NOVACRON_STATE_DIR")
    os.environ["NOVACRON_STATE_DIR"] = str(path)
    try:
        yield path
    finally:
        if before is None:
            os.environ.pop("NOVACRON_STATE_DIR", None)
        else:
            os.environ["NOVACRON_STATE_DIR"] = before
        shutil.rmtree(path, ignore_errors=True)


def _app(case: Case, backends: list[Any]) -> Any:
    from console.app import NovaApp
    from console.fleet.polling import Fleet

    return NovaApp(Fleet(case.name, backends, interval_s=case.interval_s,
                         timeout_s=case.timeout_s))


def _inventory(app: Any) -> Any:
    from screens.inventory import InventoryScreen

    screen = app.screen
    return screen if isinstance(screen, InventoryScreen) else None


async def _keys(app: Any, frames: Frames, case: Case, vm_count: int, deadline: float,
                session: Session) -> None:
    """Moves, a typed filter, a screen switch, over and over until `deadline` and until the
    fleet has published `MIN_POLLS` snapshots (a loaded machine polls slowly), at most
    `MAX_SESSION_S`."""
    rng = random.Random(17)
    first = app.fleet.snapshot.generation
    give_up = time.perf_counter() + MAX_SESSION_S
    while time.perf_counter() < give_up and (
            time.perf_counter() < deadline or app.fleet.snapshot.generation - first < MIN_POLLS):
        await _round(app, frames, case, vm_count, session, rng)


async def _round(app: Any, frames: Frames, case: Case, vm_count: int, session: Session,
                 rng: random.Random) -> None:
    """Ten moves, `/` and the filter typed, escape, hosts screen and back."""
    from screens.hosts import HostsScreen
    from screens.inventory import InventoryScreen

    record = session.keys.setdefault

    async def gap() -> None:
        await asyncio.sleep(rng.uniform(0.02, 0.12))

    screen = _inventory(app)
    assert screen is not None
    table = screen.table
    for n in range(10):
        key = "j" if n < 5 else "k"
        want = table.cursor_row + (1 if key == "j" else -1)
        record("move (j/k)", []).append(await frames.press(
            key, lambda w=want: table.cursor_row == w))
        await gap()
    filter_box = screen.query_one("#filter")
    record("filter: / opens the box", []).append(await frames.press(
        "slash", lambda: filter_box.has_focus))
    await gap()
    typed = ""
    started = 0.0
    for char in case.filter_text:
        typed += char
        started = time.perf_counter()
        record("filter: a typed character", []).append(await frames.press(
            char, lambda t=typed: filter_box.value == t))
        await gap()
    # The table follows the filter 0.12 s after the last character (the debounce).
    shown_at = await frames.until(lambda: 0 < table.row_count < vm_count, 30)
    session.filter_applied.append(shown_at - started)
    await gap()  # the operator looks at the filtered list before escape, as between all keys
    record("filter: escape (full list back)", []).append(await frames.press(
        "escape", lambda: table.row_count == vm_count and not screen.filter_text))
    await gap()
    record("screen switch (2, 1)", []).append(await frames.press(
        "2", lambda: isinstance(app.screen, HostsScreen)))
    await gap()
    record("screen switch (2, 1)", []).append(await frames.press(
        "1", lambda: isinstance(app.screen, InventoryScreen)))
    await gap()


async def _session(case: Case, backends: list[Any], vm_count: int) -> Session:
    app = _app(case, backends)
    session = Session()
    async with app.run_test(size=SIZE):
        frames = Frames(app)
        await frames.until(lambda: (s := _inventory(app)) is not None
                           and s.table.row_count >= vm_count, case.timeout_s)
        generation = app.fleet.snapshot.generation
        probe = LoopLag()
        probe.start()
        try:
            await _keys(app, frames, case, vm_count, time.perf_counter() + SECONDS, session)
        finally:
            await probe.stop()
        session.lags, session.busy = probe.lags, probe.busy
        session.polls = app.fleet.snapshot.generation - generation
        session.load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    return session


async def _first_paint(case: Case, backends: list[Any], vm_count: int) -> tuple[float, bool]:
    """Seconds from constructing the app to the first frame with every VM listed, and whether
    that frame came from the stored snapshot (rows stale) rather than a poll."""
    started = time.perf_counter()
    app = _app(case, backends)
    async with app.run_test(size=SIZE):
        frames = Frames(app)
        shown = await frames.until(lambda: (s := _inventory(app)) is not None
                                   and s.table.row_count >= vm_count, case.timeout_s)
        cached = bool(app.snapshot and app.snapshot.vms and app.snapshot.vms[0].stale)
    return shown - started, cached


async def _store_snapshot(case: Case, backends: list[Any]) -> None:
    """Poll once and save the sweep in the store, as a previous run of the console would."""
    from console.fleet.polling import Fleet
    from console.store import Store

    fleet = Fleet(case.name, backends, interval_s=3600, timeout_s=case.timeout_s)
    snapshot = await fleet.poll_once()
    await fleet.stop()
    store = await Store.open()
    try:
        await store.save_snapshot(case.name, snapshot)
    finally:
        await store.close()


# -- reporting -------------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def _ms(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value >= 0.0095 else f"{value * 1000:.1f} ms"


def _rows(case: Case, sessions: list[Session]) -> list[tuple[str, str, str, str]]:
    """Medians over the sessions of each session's p50/p95/max."""

    def med(fn: Callable[[Session], float]) -> float:
        return statistics.median(fn(s) for s in sessions)

    rows = []
    every = [s.all_keys() for s in sessions]
    p50 = statistics.median(_pct(k, 0.5) for k in every)
    p95 = statistics.median(_pct(k, 0.95) for k in every)
    worst = statistics.median(max(k) for k in every)
    stall = med(lambda s: max(s.lags, default=0.0))
    n = sum(len(k) for k in every)
    polls = sum(s.polls for s in sessions)
    rows.append((f"{case.label}: keypress -> repaint p50 / p95 / max ({n} keys, {polls} polls)",
                 f"{_ms(p50)} / {_ms(p95)} / {_ms(worst)}", "",
                 f"p95 <= {TARGET_P95_MS:.0f} ms: "
                 + ("ok" if p95 * 1000 <= TARGET_P95_MS else "MISSED")))
    for what in sessions[0].keys:
        times = [s.keys.get(what, []) for s in sessions]
        if not any(times):
            continue
        rows.append((f"  {what}",
                     f"{_ms(statistics.median(_pct(t, 0.5) for t in times if t))} / "
                     f"{_ms(statistics.median(_pct(t, 0.95) for t in times if t))} / "
                     f"{_ms(statistics.median(max(t) for t in times if t))}", "", ""))
    applied = [statistics.median(s.filter_applied) for s in sessions if s.filter_applied]
    if applied:
        rows.append(("  filter: table filtered, from the last character (0.12 s debounce)",
                     _ms(statistics.median(applied)), "", "info"))
    rows.append((f"{case.label}: longest event-loop stall (5 ms probe)", _ms(stall), "",
                 f"<= {TARGET_STALL_MS:.0f} ms: "
                 + ("ok" if stall * 1000 <= TARGET_STALL_MS else "MISSED")))
    busy = med(lambda s: max(s.busy, default=0.0))
    rows.append(("  of it spent on this process's CPU (not another job's)", _ms(busy), "",
                 "ok" if busy * 1000 <= TARGET_STALL_MS else "MISSED"))
    rows.append((f"  (runs: {len(sessions)} x {SECONDS:g} s; load average "
                 f"{', '.join(s.load for s in sessions)})", "", "", ""))
    return rows


# -- the cases ------------------------------------------------------------------------------


def _prometheus_case() -> Case:
    from backends.prometheus.backend import PrometheusBackend
    from tests.integration import prometheus_fixture as pf

    fleet = pf.Fleet()
    url: dict[str, str] = {}

    def backends() -> list[Any]:
        return [PrometheusBackend("prometheus", url["url"], inventory=True, timeout_s=60,
                                  queries=pf.QUERIES)]

    def open_(stack: contextlib.ExitStack) -> tuple[Callable[[], list[Any]], int]:
        given = os.environ.get("NOVACRON_BENCH_PROMETHEUS_URL")
        if given:  # a Prometheus already backfilled with the default fleet (saves minutes)
            url["url"] = given
            return backends, fleet.vm_count
        if not os.access(pf.PROMETHEUS, os.X_OK):
            raise Skip("prometheus is not installed (Debian package prometheus)")
        server = stack.enter_context(pf.backfilled_prometheus(fleet))
        url["url"] = server.url
        return backends, fleet.vm_count

    return Case("prometheus", f"prometheus, {fleet.hosts:,} hosts / {fleet.vm_count:,} VMs",
                open_, filter_text="vm-12", first_paint=True)


LIBVIRT_VMS_PER_HOST = 50
LIBVIRT_HOSTS_PER_DAEMON = 50


def _host_xml(h: int, vms: int) -> str:
    domains = []
    for i in range(vms):
        state = {7: 3, 13: 5, 29: 7}.get(i, 1)
        domains.append(
            "<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>"
            f"<name>h{h:03d}-vm-{i:02d}</name><uuid>{h:08x}-0000-4000-8000-{i:012x}</uuid>"
            f"<memory unit='MiB'>{1024 << (i % 4)}</memory><vcpu>{1 << (i % 3)}</vcpu>"
            "<os><type arch='x86_64'>hvm</type></os><devices>"
            f"<interface type='network'><mac address='52:54:00:{h // 256:02x}:{h % 256:02x}:"
            f"{i:02x}'/><source network='default'/></interface></devices>"
            f"<test:runstate>{state}</test:runstate></domain>")
    return ("<?xml version='1.0'?><node><cpu><mhz>2800</mhz><model>bench</model>"
            "<active>64</active><total>64</total><nodes>1</nodes><sockets>2</sockets>"
            "<cores>16</cores><threads>2</threads></cpu><memory>536870912</memory>"
            + "".join(domains) + "</node>\n")


def _libvirt_case() -> Case:
    from tests.integration import libvirtd_fixture as lf

    hosts = int(os.environ.get("NOVACRON_BENCH_LIBVIRT_HOSTS") or (50 if QUICK else 200))
    daemons = max(1, -(-hosts // LIBVIRT_HOSTS_PER_DAEMON))

    def open_(stack: contextlib.ExitStack) -> tuple[Callable[[], list[Any]], int]:
        from backends.libvirt.backend import LibvirtBackend

        reason = lf.missing_requirements()
        if reason:
            raise Skip(f"libvirt case: {reason}")
        lf.ensure_host_setup()
        root = Path(tempfile.mkdtemp(prefix="nc-bench-libvirt-"))
        stack.callback(shutil.rmtree, root, ignore_errors=True)
        running = []
        for d in range(daemons):
            daemon = lf.Libvirtd(root / f"libvirtd-{d}")
            daemon.start()
            stack.callback(daemon.stop)
            running.append(daemon)
        uris = []
        for h in range(hosts):
            xml = root / f"host-{h:03d}.xml"
            xml.write_text(_host_xml(h, LIBVIRT_VMS_PER_HOST))
            uris.append((f"kvm-{h:03d}", running[h % daemons].test_uri(xml)))

        def backends() -> list[Any]:
            return [LibvirtBackend(name, uri, timeout_s=30) for name, uri in uris]

        return backends, hosts * LIBVIRT_VMS_PER_HOST

    return Case("libvirt", f"libvirt, {hosts} test-driver hosts over TCP ({daemons} libvirtd)"
                f" / {hosts * LIBVIRT_VMS_PER_HOST:,} VMs", open_, filter_text="h001-vm-1")


def _demo_case() -> Case:
    def open_(_stack: contextlib.ExitStack) -> tuple[Callable[[], list[Any]], int]:
        from backends.libvirt.backend import LibvirtBackend
        from console import demo

        def backends() -> list[Any]:
            return [LibvirtBackend(name, uri) for name, uri in demo.host_uris()]

        return backends, 60

    return Case("demo", "demo (5 in-process test-driver hosts / 60 VMs), idle", open_,
                filter_text="web")


def cases() -> list[Case]:
    """The built-in cases, then every `latency_<kind>.py` module's `cases()`."""
    found = [_prometheus_case(), _libvirt_case(), _demo_case()]
    for path in sorted(HERE.glob("latency_*.py")):
        module = importlib.import_module(f"tests.bench.{path.stem}")
        found += module.cases()
    return found


def _run_case(case: Case) -> list[tuple[str, str, str, str]]:
    rounds = 1 if QUICK else 3
    with contextlib.ExitStack() as stack:
        fresh, vm_count = case.open(stack)
        sessions = []
        for _ in range(rounds):
            gc.collect()
            with state_dir():
                sessions.append(asyncio.run(_session(case, fresh(), vm_count)))
        rows = _rows(case, sessions)
        _show(rows)
        if case.first_paint and not os.environ.get("NOVACRON_BENCH_NO_PAINT"):
            cold, cached = [], []
            for _ in range(rounds):
                gc.collect()
                with state_dir():
                    try:
                        cold.append(asyncio.run(_first_paint(case, fresh(), vm_count))[0])
                    except TimeoutError:
                        cold.append(float("inf"))
                    asyncio.run(_store_snapshot(case, fresh()))
                    gc.collect()
                    try:
                        seconds, from_cache = asyncio.run(_first_paint(case, fresh(), vm_count))
                    except TimeoutError:
                        seconds, from_cache = float("inf"), True
                    cached.append(seconds if from_cache else float("nan"))
                    _show([("first paint cold / cached (s)", f"{cold[-1]:.2f}",
                            f"{cached[-1]:.2f}", "")])
            rows.append((f"{case.label}: first paint, cold start (first poll)",
                         f"{statistics.median(cold):.2f} s", "", "info"))
            shown = statistics.median(cached)
            rows.append((f"{case.label}: first paint from the stored snapshot",
                         f"{shown:.2f} s", "",
                         f"<= {TARGET_CACHED_PAINT_S:g} s: "
                         + ("ok" if shown <= TARGET_CACHED_PAINT_S else "MISSED")))
    return rows


def _show(rows: list[tuple[str, str, str, str]]) -> None:
    """Rows as soon as they are measured (stderr), in case a later step fails."""
    for row in rows:
        print(" | ".join(row), file=sys.stderr, flush=True)


def run() -> list[tuple[str, str, str, str]]:
    wanted = {w.strip() for w in (os.environ.get("NOVACRON_BENCH_LATENCY") or "").split(",")
              if w.strip()}
    rows: list[tuple[str, str, str, str]] = []
    for case in cases():
        if wanted and case.name not in wanted:
            continue
        try:
            rows += _run_case(case)
        except Skip as why:
            rows.append((f"{case.label}: skipped: {why}", "", "", "n/a"))
    return rows


def serve() -> None:
    """Backfill and serve the 100k-VM Prometheus until interrupted (for repeated runs)."""
    from tests.integration import prometheus_fixture as pf

    with pf.backfilled_prometheus(pf.Fleet()) as server:
        print(f"NOVACRON_BENCH_PROMETHEUS_URL={server.url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        serve()
    else:
        for row in run():
            print(" | ".join(row))
