"""Polling: one loop per source, never overlapping, merged into immutable `FleetSnapshot`s.

Each source is polled by its own task: the next poll starts only after the last one ended, under
a per-call timeout. A failing source keeps its last data, marked stale with its age and error,
backs off exponentially with jitter, and after a few failures its circuit opens (it is polled
only at the slowest rate and shown as down) until a poll succeeds again. Backends that can
signal changes (libvirt lifecycle events) wake their loop early.

The fleet knows nothing of Textual: whoever runs it passes `on_snapshot`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import operator
import random
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from backends.base import Backend, SupportsEvents
from console.errors import NovaError
from console.models import VM, FleetSnapshot, Host, HostState, SourceData, SourceHealth

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_BACKOFF_S = 20.0
"""Longest wait between polls of a failing source: a host that returns is seen within it."""
CIRCUIT_OPEN_AFTER = 3
"""Consecutive failures after which a source is shown as down and polled at the slowest rate."""
MIN_EVENT_GAP_S = 0.25
"""A burst of lifecycle events triggers one early poll, not one poll per event."""
PUBLISH_GAP_S = 0.2
"""Shortest time between two published snapshots while sources answer one after another:
200 libvirt hosts polled every 5 s answered 40 times a second, and each answer re-merged and
re-diffed the whole fleet on the event loop (3,060 snapshots in 90 s, stalls of 0.2-0.3 s in
`make bench ARGS=latency`). A lone answer is published at once; a burst, once per gap."""


def backoff_delay(interval_s: float, failures: int, rng: random.Random) -> float:
    """Delay before the next poll of a source that failed `failures` times in a row."""
    if failures <= 0:
        return interval_s
    ceiling = min(MAX_BACKOFF_S, interval_s * 2 ** min(failures, 10))
    return max(interval_s, ceiling * rng.uniform(0.5, 1.0))


def describe(exc: BaseException) -> str:
    if isinstance(exc, NovaError):
        return str(exc)
    if isinstance(exc, TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _restamper(cls: type[T]) -> Callable[[T, float], T]:
    """A copy of a `cls` instance marked stale with an age: what `dataclasses.replace(obj,
    stale=True, age_s=age)` does, three times faster (a stale source of 100k VMs is copied
    at every publish, and a console starting from the stored snapshot waits for it)."""
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    if any(not f.init for f in dataclasses.fields(cls)):  # type: ignore[arg-type]
        return lambda obj, age: dataclasses.replace(obj, stale=True, age_s=age)  # type: ignore[type-var]
    values_of = operator.attrgetter(*names)
    stale_at, age_at = names.index("stale"), names.index("age_s")

    def restamp(obj: T, age: float) -> T:
        values = list(values_of(obj))
        values[stale_at] = True
        values[age_at] = age
        return cls(*values)

    return restamp


_stale_vm = _restamper(VM)


class _Source:
    """Polling state of one backend."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.data = SourceData()
        self.health = SourceHealth(name=backend.name, ok=False, error="connecting")
        self.wake = asyncio.Event()
        self.ever_ok = False


async def _read(backend: Backend) -> tuple[Sequence[Host], Sequence[VM]]:
    """`hosts()` and `vms()` concurrently. A TaskGroup, not `gather`: when the poll is cancelled
    (a timeout, the fleet stopping) every failure of either call is collected, none is left
    "never retrieved" in the log."""
    async with asyncio.TaskGroup() as group:
        hosts = group.create_task(backend.hosts())
        vms = group.create_task(backend.vms())
    return hosts.result(), vms.result()


class Fleet:
    """Polls every source of one context and publishes merged snapshots."""

    def __init__(
        self,
        context: str,
        backends: Sequence[Backend],
        *,
        interval_s: float = 5.0,
        timeout_s: float = 15.0,
        on_snapshot: Callable[[FleetSnapshot], None] | None = None,
        clock: Callable[[], float] = time.time,
        seed: int | None = None,
        initial: FleetSnapshot | None = None,
    ) -> None:
        self.context = context
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self._on_snapshot = on_snapshot
        self._clock = clock
        self._rng = random.Random(seed)
        self._sources = {b.name: _Source(b) for b in backends}
        self._tasks: list[asyncio.Task[None]] = []
        self._generation = 0
        self._published_at = -PUBLISH_GAP_S
        self._publish_later: asyncio.TimerHandle | None = None
        self._snapshot = initial or FleetSnapshot(context=context, taken_at=clock())
        if initial is not None:
            self.restore(initial)

    def on_snapshot(self, callback: Callable[[FleetSnapshot], None] | None) -> None:
        """Call `callback` (on the fleet's loop) with every new snapshot; None stops it."""
        self._on_snapshot = callback

    @property
    def snapshot(self) -> FleetSnapshot:
        return self._snapshot

    @property
    def backends(self) -> dict[str, Backend]:
        return {name: s.backend for name, s in self._sources.items()}

    def restore(self, snap: FleetSnapshot) -> None:
        """Start from a stored snapshot: its data shows at once, stale until the first poll."""
        for name, source in self._sources.items():
            source.data = SourceData(
                hosts=tuple(h for h in snap.hosts if h.backend == name),
                vms=tuple(v for v in snap.vms if v.backend == name),
            )
            source.health = SourceHealth(name=name, ok=False, last_success=snap.taken_at,
                                         error="not polled yet")
            source.ever_ok = bool(source.data.hosts or source.data.vms)
        self._publish()

    # -- running ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start one polling task per source (returns at once)."""
        for source in self._sources.values():
            if isinstance(source.backend, SupportsEvents):
                source.backend.watch(self._waker(source))
            self._tasks.append(asyncio.create_task(self._run(source), name=f"poll:{source.backend.name}"))

    async def stop(self) -> None:
        if self._publish_later is not None:
            self._publish_later.cancel()
            self._publish_later = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        for source in self._sources.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(source.backend.close(), 2)

    def poke(self, name: str | None = None) -> None:
        """Poll one source (or all) now instead of at the next tick, e.g. after an action."""
        for source in self._sources.values():
            if name is None or source.backend.name == name:
                source.wake.set()

    def _waker(self, source: _Source) -> Callable[[], None]:
        return source.wake.set

    async def poll_once(self) -> FleetSnapshot:
        """Poll every source once, concurrently (the CLI's path); returns the snapshot."""
        await asyncio.gather(*(self._poll(s) for s in self._sources.values()))
        return self._publish()

    async def _run(self, source: _Source) -> None:
        while True:
            await self._poll(source)
            self._publish_soon()
            failures = source.health.consecutive_failures
            delay = backoff_delay(self.interval_s, failures, self._rng)
            if failures >= CIRCUIT_OPEN_AFTER:
                delay = MAX_BACKOFF_S * self._rng.uniform(0.8, 1.0)
            source.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(source.wake.wait(), delay)
            if failures < CIRCUIT_OPEN_AFTER:
                await asyncio.sleep(MIN_EVENT_GAP_S)

    async def _poll(self, source: _Source) -> None:
        backend = source.backend
        started = self._clock()
        try:
            async with asyncio.timeout(self.timeout_s):
                hosts, vms = await _read(backend)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if isinstance(exc, ExceptionGroup):  # both calls failed: the first one says why
                exc = exc.exceptions[0]
            prev = source.health
            if prev.ok or prev.consecutive_failures == 0:
                log.warning("source failed: %s", describe(exc), extra={"source": backend.name})
            source.health = dataclasses.replace(
                prev, ok=False, last_attempt=started, error=describe(exc),
                consecutive_failures=prev.consecutive_failures + 1,
            )
            return
        if source.health.consecutive_failures:
            log.info("source recovered", extra={"source": backend.name})
        source.data = SourceData(hosts=tuple(hosts), vms=tuple(vms))
        source.ever_ok = True
        source.health = SourceHealth(name=backend.name, ok=True, last_success=self._clock(),
                                     last_attempt=started)

    # -- merging ----------------------------------------------------------------------------

    def _publish_soon(self) -> None:
        """Publish now, or at the end of `PUBLISH_GAP_S` after the last publish (once for
        all the answers that arrive meanwhile)."""
        if self._publish_later is not None:
            return
        loop = asyncio.get_running_loop()
        wait = self._published_at + PUBLISH_GAP_S - loop.time()
        if wait <= 0:
            self._publish()
        else:
            self._publish_later = loop.call_later(wait, self._publish)

    def _publish(self) -> FleetSnapshot:
        if self._publish_later is not None:
            self._publish_later.cancel()
            self._publish_later = None
        with contextlib.suppress(RuntimeError):  # no running loop: the CLI's restore
            self._published_at = asyncio.get_running_loop().time()
        now = self._clock()
        hosts: list[Host] = []
        vms: list[VM] = []
        for source in self._sources.values():
            health = source.health
            if health.ok:
                hosts.extend(source.data.hosts)
                vms.extend(source.data.vms)
                continue
            age = health.age(now) or 0.0
            never_answered = not source.ever_ok and health.last_attempt is not None
            down = health.consecutive_failures >= CIRCUIT_OPEN_AFTER or never_answered
            state = HostState.DOWN if down else HostState.STALE
            if source.data.hosts:
                hosts.extend(dataclasses.replace(h, state=state, stale=True, age_s=age,
                                                 error=health.error) for h in source.data.hosts)
            else:
                hosts.append(Host(id=source.backend.name, name=source.backend.name,
                                  backend=source.backend.name, state=state, stale=True,
                                  age_s=age, error=health.error))
            vms.extend([_stale_vm(v, age) for v in source.data.vms])
        self._generation += 1
        self._snapshot = FleetSnapshot(
            context=self.context, taken_at=now, hosts=tuple(hosts), vms=tuple(vms),
            health=tuple(s.health for s in self._sources.values()), generation=self._generation,
        )
        if self._on_snapshot is not None:
            self._on_snapshot(self._snapshot)
        return self._snapshot
