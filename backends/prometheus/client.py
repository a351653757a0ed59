"""The HTTP side: prometheus-api-client on a small thread pool, under explicit timeouts.

Why threads: prometheus-api-client (requests) blocks, and a 100,000-series answer takes a
noticeable moment to read and decode; both happen on this backend's own workers, never on the
event loop. Why no retries: the library's default retries three times with back-off, which
turns a 5 s timeout into 20 s; the fleet already retries with back-off and a circuit breaker,
so one attempt per call keeps the timeout what the config says.

Why the instant queries bypass the library's `custom_query`: it decodes the whole answer in one
`json` call, a C call holding the GIL throughout (~0.25 s of CPU at 100,000 series, and the
event loop waits); `parse.decode_answer` decodes a large answer in slices of ~2 ms each. The request itself is
the same (GET `/api/v1/query`, the same session, headers and timeouts, the same error for a
non-200 answer).

Why the garbage collector is paused while an answer is decoded: a 100,000-series answer
allocates about a million small objects, which sets off repeated full collections; each holds
the GIL, so the event loop froze for up to ~1 s per inventory poll and the poll took 40 % longer.
Those objects hold no reference cycles (refcounting frees them), so collections are postponed
(process-wide, counted across threads) until the decoding threads are done, and what they built
is then frozen (`gc.freeze`): the first collection after would otherwise walk all of it at once
(0.1-0.4 s at 100k VMs). Frozen objects still die by refcount; the console's `console.heap`
runs the occasional full collection that frees frozen cycles.

Timeouts, three layers: requests' (connect, read) socket timeouts; Prometheus's own `timeout`
query parameter, so the server stops evaluating too; and a hard deadline around the worker for
a server that trickles bytes forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.util.retry import Retry

from console.errors import Code, NovaError

from . import parse
from .errors import translate
from .results import QueryStats

T = TypeVar("T")

_gc_lock = threading.Lock()
_gc_holders = 0
_gc_was_enabled = True


_shaping = threading.RLock()


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Postpone cyclic garbage collection while bulk acyclic data is built (see above), one
    thread at a time: the threads decoding an inventory's four answers at once made five
    contenders for the GIL, and the event loop waited its turn behind all of them (stalls of
    50-150 ms at 100k VMs); one at a time, it waits for one slice at most."""
    with _shaping, _collection_postponed():
        yield


@contextlib.contextmanager
def _collection_postponed() -> Iterator[None]:
    global _gc_holders, _gc_was_enabled
    with _gc_lock:
        if _gc_holders == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_holders += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_holders -= 1
            if _gc_holders == 0 and _gc_was_enabled:
                gc.freeze()  # what was built is walked by no collection (see above)
                gc.enable()


class PromClient:
    """One Prometheus-API endpoint (Prometheus, Thanos, Mimir, VictoriaMetrics)."""

    def __init__(self, url: str, *, timeout_s: float = 5.0, name: str = "prometheus",
                 max_workers: int = 4, headers: dict[str, str] | None = None) -> None:
        if not url.startswith(("http://", "https://")):
            raise NovaError(Code.CONFIG_INVALID, f"prometheus url {url!r}",
                            "it must start with http:// or https://")
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self._headers = headers
        self._session = requests.Session()
        self._session.hooks["response"].append(self._count)
        self._prom = PrometheusConnect(
            url=self.url, headers=headers, session=self._session,
            retry=Retry(total=0),
            timeout=(timeout_s, timeout_s),  # type: ignore[arg-type]  # requests takes a pair
        )
        self._executor = ThreadPoolExecutor(max_workers=max_workers,
                                            thread_name_prefix=f"prometheus-{name}")
        self._max_workers = max_workers
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None
        self._lock = threading.Lock()
        self._stats = QueryStats()

    # -- bookkeeping ------------------------------------------------------------------------

    def _count(self, response: requests.Response, *_: Any, **__: Any) -> None:
        """requests' response hook: runs on the worker for every HTTP answer."""
        size = len(response.content)
        elapsed = response.elapsed.total_seconds()
        with self._lock:
            s = self._stats
            self._stats = QueryStats(s.queries + 1, s.bytes + size, s.seconds + elapsed)

    @property
    def stats(self) -> QueryStats:
        """Requests, decoded bytes and seconds spent so far."""
        with self._lock:
            return self._stats

    # -- running blocking calls -------------------------------------------------------------

    async def call(self, fn: Callable[..., T], *args: Any, endpoint: str = "/api/v1/query") -> T:
        """Run `fn(*args)` on a worker; map every failure to a NovaError naming the URL."""
        url = self.url + endpoint
        deadline = self.timeout_s * 2 + 1  # socket timeouts fire first; this catches tricklers
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0] is not loop:
            self._slots = (loop, asyncio.Semaphore(self._max_workers))
        async with self._slots[1]:  # the deadline starts when a worker is free, not when queued
            future = loop.run_in_executor(self._executor, fn, *args)
            try:
                return await asyncio.wait_for(future, deadline)
            except TimeoutError as exc:
                raise NovaError(Code.TIMEOUT, url,
                                f"no complete answer from {url} within {deadline:g} s") from exc
            except Exception as exc:
                raise translate(exc, url, self.timeout_s) from exc

    def _params(self, at: float | None) -> dict[str, Any]:
        params: dict[str, Any] = {"timeout": f"{self.timeout_s:g}s"}
        if at is not None:
            params["time"] = f"{at:.3f}"
        return params

    # -- the API calls ----------------------------------------------------------------------

    async def instant(self, query: str, at: float | None = None) -> parse.Vector:
        """An instant query, decoded and checked on the worker."""

        def run() -> parse.Vector:
            response = self._session.get(
                self.url + "/api/v1/query", params={"query": query, **self._params(at)},
                headers=self._headers, timeout=(self.timeout_s, self.timeout_s))
            if response.status_code != 200:
                raise PrometheusApiClientException(
                    f"HTTP Status Code {response.status_code} ({response.content!r})")
            with gc_paused():
                result = parse.decode_answer(response.content)["data"]["result"]
                try:
                    return parse.vector(result)
                finally:
                    if isinstance(result, list):
                        parse.release(result)

        return await self.call(run)

    async def instant_many(self, queries: dict[str, str], at: float | None = None
                           ) -> dict[str, parse.Vector]:
        """Several instant queries at the same evaluation time, in parallel."""
        at = time.time() if at is None else at
        names = list(queries)
        results = await asyncio.gather(*(self.instant(queries[n], at) for n in names))
        return dict(zip(names, results, strict=True))

    async def range(self, query: str, start: float, end: float, step: float) -> parse.Matrix:
        """A range query, decoded and checked on the worker."""

        def run() -> parse.Matrix:
            with gc_paused():
                return parse.matrix(self._prom.custom_query_range(
                    query, start_time=datetime.fromtimestamp(start, UTC),
                    end_time=datetime.fromtimestamp(end, UTC), step=f"{step:g}",
                    params=self._params(None)))

        return await self.call(run, endpoint="/api/v1/query_range")

    async def get_data(self, endpoint: str, shape: Callable[[Any], T]) -> T:
        """GET an API endpoint the library does not wrap (alerts); return `shape(data)`,
        computed on the worker so a malformed answer is reported like any other."""

        def run() -> T:
            response = self._session.get(self.url + endpoint, timeout=(self.timeout_s,) * 2)
            if response.status_code != 200:
                raise PrometheusApiClientException(
                    f"HTTP Status Code {response.status_code} ({response.content!r})")
            body = response.json()
            if not isinstance(body, dict) or "data" not in body:
                raise parse.MalformedResponse("the answer has no data field")
            with gc_paused():
                return shape(body["data"])

        return await self.call(run, endpoint=endpoint)

    async def close(self) -> None:
        """Close the HTTP session and let idle workers go; a stuck call ends at its timeout."""
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._prom.close()
