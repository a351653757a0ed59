"""The SSH event loop: one asyncio loop on a daemon thread, serving every SSH connection.

Why not the app's loop: libvirt is a blocking SDK whose calls run on worker threads, and a
libvirt call waiting on a tunnel needs the loop that serves that tunnel to keep running. On a
loop of its own, no libvirt call anywhere (not even one made on the UI thread by mistake) can
deadlock a tunnel, a busy UI never delays keepalives, and connections outlive the short loops
of CLI commands and tests. Callers on another loop await `call`; worker threads use
`call_blocking`. The data path itself never hops threads: forwarded sockets are served here.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from console.errors import Code, NovaError

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None


def ssh_loop() -> asyncio.AbstractEventLoop:
    """Start the SSH thread once; return its loop."""
    global _loop, _thread
    with _lock:
        if _loop is not None:
            return _loop
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()

        _thread = threading.Thread(target=run, name="ssh-io", daemon=True)
        _thread.start()
        ready.wait(5)
        _loop = loop
        return loop


def on_ssh_thread() -> bool:
    return threading.current_thread() is _thread


def submit(coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
    """Schedule `coro` on the SSH loop from any thread."""
    return asyncio.run_coroutine_threadsafe(coro, ssh_loop())


async def call(coro: Coroutine[Any, Any, T]) -> T:
    """Await `coro` run on the SSH loop, from another loop (or from the SSH loop itself)."""
    if on_ssh_thread():
        return await coro
    return await asyncio.wrap_future(submit(coro))


def call_blocking(coro: Coroutine[Any, Any, T], timeout_s: float, what: str) -> T:
    """Run `coro` on the SSH loop and wait for it from a worker thread (never a loop's)."""
    if on_ssh_thread():
        coro.close()
        raise RuntimeError("call_blocking on the SSH thread would deadlock it")
    future = submit(coro)
    try:
        return future.result(timeout_s)
    except concurrent.futures.TimeoutError as exc:
        future.cancel()
        raise NovaError(Code.TIMEOUT, what, f"no answer within {timeout_s:g} s") from exc
