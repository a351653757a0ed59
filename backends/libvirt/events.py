"""One process-wide libvirt event loop, driven by libvirtaio on its own thread.

libvirt accepts a single event-loop implementation per process, registered before the first
connection that wants events or keepalive. Binding it to the UI's asyncio loop would tie every
libvirt connection to that one loop (tests and CLI commands run several loops in turn), so
libvirtaio runs on a private asyncio loop in a daemon thread and subscribers are called back
on their own loop with `call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import threading

import libvirt
import libvirtaio

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def ensure_started() -> asyncio.AbstractEventLoop:
    """Start the libvirt event thread once; return the loop libvirt callbacks run on."""
    global _loop
    with _lock:
        if _loop is not None:
            return _loop
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            libvirtaio.virEventRegisterAsyncIOImpl(loop=loop)
            ready.set()
            loop.run_forever()

        threading.Thread(target=run, name="libvirt-events", daemon=True).start()
        ready.wait(5)
        _loop = loop
        return loop


def started() -> bool:
    return _loop is not None


def wake() -> None:
    """Let the event thread run what a libvirt call on another thread scheduled.

    libvirtaio is not thread-safe: a call made on a worker thread that queues an event (the
    in-process drivers such as `test:///` emit lifecycle events from the calling thread) or
    adds a timer (keepalive) schedules a task on the event loop without waking it, so it would
    sit there until some socket happened to become readable. A no-op `call_soon_threadsafe`
    wakes the loop.
    """
    loop = _loop
    if loop is not None and not loop.is_closed():
        loop.call_soon_threadsafe(_noop)


def _noop() -> None:
    pass


def silence_default_error_handler() -> None:
    """libvirt prints every error to stderr by default, which would scribble over the TUI."""
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
