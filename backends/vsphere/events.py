"""Live updates: `WaitForUpdatesEx` on its own thread and session, handed to the event loop.

The stream watches only what an operator sees change (power state, host, name, size, guest
IPs, host connection), not the usage figures vCenter refreshes every 20 s, so an idle fleet
stays quiet. It has its own session and PropertyCollector: its long poll never holds up an
action, and the filter it creates lives and dies with it. A broken stream is rebuilt after a
pause (doubling up to a minute while it stays down), and the subscribers are told once when a
live stream breaks (a change may have been missed); a stream that never came up wakes no one,
so the fleet's own back-off for a failing source holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from pyVmomi import vim, vmodl

from .inventory import PC, VIEW_TYPES
from .session import Session

log = logging.getLogger(__name__)

WAIT_S = 10
"""`maxWaitSeconds` of each long poll: how soon a closed stream notices it should stop."""
RETRY_S = 5.0
MAX_RETRY_S = 60.0
WATCHED = {
    vim.VirtualMachine: ["name", "runtime.powerState", "runtime.host", "config.hardware.numCPU",
                         "config.hardware.memoryMB", "guest.ipAddress", "customValue"],
    vim.HostSystem: ["name", "runtime.connectionState", "runtime.inMaintenanceMode"],
}


class UpdateStream:
    """One thread per backend: waits for changes, calls every subscriber on its own loop."""

    def __init__(self, session: Session, name: str,
                 on_update: Callable[[Any], None] | None = None) -> None:
        self.session = session
        self.name = name
        self._on_update = on_update
        """Called on the stream's thread with each change set, before the subscribers."""
        self._subscribers: list[tuple[asyncio.AbstractEventLoop, Callable[[], None]]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._collector: Any = None
        self.updates = 0
        """How many change sets arrived after the initial one (tests and the bench read it)."""
        self.last_update_at: float | None = None
        self.ready = False
        """The stream has its initial state: from now on every change is reported."""

    def subscribe(self, loop: asyncio.AbstractEventLoop, on_change: Callable[[], None]) -> None:
        self._subscribers.append((loop, on_change))
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"vsphere-updates-{self.name}",
                                            daemon=True)
            self._thread.start()

    def _notify(self) -> None:
        for loop, callback in list(self._subscribers):
            if not loop.is_closed():
                loop.call_soon_threadsafe(callback)

    def _run(self) -> None:
        delay = RETRY_S
        while not self._stop.is_set():
            try:
                self._stream()
            except Exception as exc:  # the server went away, the session expired…
                if self._stop.is_set():
                    break
                was_live, self.ready = self.ready, False
                if was_live:  # changes may have been missed: let the fleet look once
                    delay = RETRY_S
                    self._notify()
                log.warning("vSphere update stream of %s broke: %s; retrying in %g s",
                            self.name, exc, delay)
                self.session.drop()
                self._stop.wait(delay)
                delay = min(MAX_RETRY_S, delay * 2)  # a vCenter that stays down is not hammered
        self.session.logout()

    def _stream(self) -> None:
        """Create a filter over the inventory, then wait for its changes until stopped."""
        content = self.session.content()
        collector = content.propertyCollector.CreatePropertyCollector()
        self._collector = collector
        view = content.viewManager.CreateContainerView(content.rootFolder, VIEW_TYPES, True)
        traverse = PC.TraversalSpec(name="view", path="view", skip=False, type=vim.view.ContainerView)
        spec = PC.FilterSpec(
            objectSet=[PC.ObjectSpec(obj=view, skip=True, selectSet=[traverse])],
            propSet=[PC.PropertySpec(type=t, pathSet=p) for t, p in WATCHED.items()])
        collector.CreateFilter(spec, partialUpdates=True)
        version = ""
        options = PC.WaitOptions(maxWaitSeconds=WAIT_S)
        try:
            while not self._stop.is_set():
                result = collector.WaitForUpdatesEx(version, options)
                if result is None:
                    continue  # nothing changed within WAIT_S
                if version:  # the first answer is the initial state, not a change
                    self.updates += 1
                    self.last_update_at = time.time()
                    if self._on_update is not None:
                        self._on_update(result)
                    self._notify()
                version = result.version
                self.ready = True
        finally:
            self._collector = None
            with contextlib.suppress(vmodl.MethodFault, OSError):
                collector.DestroyPropertyCollector()
                view.DestroyView()

    def close(self) -> None:
        """Stop the thread: it wakes within WAIT_S (at once when the server cancels the wait)."""
        self._stop.set()
        collector = self._collector
        if collector is not None:
            threading.Thread(target=_cancel, args=(collector,), daemon=True).start()


def _cancel(collector: Any) -> None:
    with contextlib.suppress(Exception):  # not supported, or the stream already ended
        collector.CancelWaitForUpdates()
