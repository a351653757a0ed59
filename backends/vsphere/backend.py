"""A vCenter (or ESXi) as a NovaCron backend: one session, one property retrieval per poll.

pyVmomi blocks, so every call runs on this backend's own small thread pool under a timeout: a
vCenter that hangs ties up its own threads, never the event loop or other sources. Long waits
(a task, a guest shutting down) are polled from the loop, one short call at a time, so no
thread sits on them. Lifecycle, snapshot, vMotion and metrics live in their own modules
(mixins); this class is about the session, the inventory and the update stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from pyVmomi import vim, vmodl

from console.errors import Code, NovaError
from console.models import VM, Host

from . import patch
from .actions import PowerMixin, SnapshotsMixin
from .create import CreateMixin
from .errors import translate
from .events import WAIT_S, UpdateStream
from .inventory import VIEW_TYPES, Inventory, as_records, build, filter_spec, retrieve
from .metrics import MetricsMixin
from .migration import MigrationMixin
from .resize import ResizeMixin
from .session import Endpoint, Session

T = TypeVar("T")
MOID = re.compile(r"^vm-\d+$")
MAX_WORKERS = 4


FULL_EVERY_S = 60.0
"""A patched inventory is served at most this long after the last full retrieval (usage
figures, which the update stream leaves out, are never older than that)."""


@dataclass(slots=True)
class CallStats:
    """What this backend has cost the server so far (the bench reads it)."""

    retrievals: int = 0
    soap_calls: int = 0
    retrieve_s: float = 0.0
    patched: int = 0
    """Polls answered from the inventory the update stream patched, with no retrieval."""


class VsphereBackend(PowerMixin, SnapshotsMixin, MigrationMixin, MetricsMixin, CreateMixin,
                     ResizeMixin):
    """One vCenter Server (or standalone ESXi): every host and VM it manages."""

    kind = "vsphere"

    def __init__(self, name: str, endpoint: Endpoint, *, read_only: bool = False,
                 timeout_s: float = 10.0, datacenters: Sequence[str] = ()) -> None:
        self.name = name
        self.endpoint = endpoint
        self.uri = f"https://{endpoint.label}/sdk"
        self.read_only = read_only
        self.timeout_s = timeout_s
        self.datacenters = tuple(datacenters)
        self.session = Session(endpoint, http_timeout_s=timeout_s)
        self.stats = CallStats()
        self._executor = ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix=f"vsphere-{name}")
        self._views: tuple[int, list[Any], list[Any]] | None = None
        self._pending: asyncio.Future[Inventory] | None = None
        self._last = Inventory()
        self._stream: UpdateStream | None = None
        self._patch_lock = threading.Lock()
        self._stream_changes = 0
        """Change sets the stream delivered so far (patched in or not)."""
        self._served = {"hosts": 0, "vms": 0}
        """The change count each of hosts()/vms() last answered with."""
        self._needs_full = True
        self._full_at = 0.0
        MigrationMixin.__init__(self)
        MetricsMixin.__init__(self)

    # -- plumbing ---------------------------------------------------------------------------

    async def _call(self, fn: Callable[..., T], *args: Any, about: str = "",
                    timeout_s: float | None = None) -> T:
        """`fn(content, *args)` on this backend's threads; faults become NovaErrors about
        `about` (a VM's name), a call with no answer within the timeout NOVA-2002."""
        loop = asyncio.get_running_loop()
        limit = timeout_s or self.timeout_s
        future = loop.run_in_executor(self._executor, self._guarded, fn, args, about)
        try:
            return await asyncio.wait_for(future, limit)
        except TimeoutError as exc:
            raise NovaError(Code.TIMEOUT, about or self.name,
                            f"vSphere at {self.endpoint.label} gave no answer within {limit:g} s") from exc

    def _guarded(self, fn: Callable[..., T], args: tuple[Any, ...], about: str) -> T:
        try:
            return self.session.call(fn, *args)
        except NovaError:
            raise
        except Exception as exc:
            raise translate(exc, about or f"{self.name} ({self.endpoint.label})") from exc

    def _refuse_if_read_only(self, what: str) -> None:
        if self.read_only:
            raise NovaError(Code.READ_ONLY, what, f"source {self.name} was opened read-only")

    # -- Backend ----------------------------------------------------------------------------

    async def hosts(self) -> Sequence[Host]:
        return (self._from_patch("hosts") or await self._inventory()).hosts

    async def vms(self) -> Sequence[VM]:
        patched = self._from_patch("vms")
        if patched is not None:
            self.stats.patched += 1
        return (patched or await self._inventory()).vms

    def _from_patch(self, which: str) -> Inventory | None:
        """The last inventory with the stream's changes applied, when there are changes this
        call has not answered with yet and the patch could rebuild them; else None (retrieve).
        Both calls of one poll get the same answer, whichever runs first."""
        with self._patch_lock:
            if (self._needs_full or self._served[which] == self._stream_changes
                    or time.monotonic() - self._full_at > FULL_EVERY_S):
                return None
            self._served[which] = self._stream_changes
            return self._last

    def _on_stream_update(self, update_set: Any) -> None:
        """On the stream's thread: patch the last inventory, or ask for a full retrieval."""
        updates = patch.changes(update_set)
        with self._patch_lock:
            self._stream_changes += 1
            patched = None if self._needs_full else patch.apply(self._last, updates)
            if patched is None:
                self._needs_full = True
            else:
                self._last = patched

    async def _inventory(self) -> Inventory:
        """The inventory, read once for the `hosts()` and `vms()` of the same poll (the fleet
        asks for both at once): one retrieval, shared."""
        if self._pending is None or self._pending.done():
            self._pending = asyncio.ensure_future(self._call(self._read_inventory))
            self._pending.add_done_callback(_consume)
        return await asyncio.shield(self._pending)

    def _read_inventory(self, content: Any) -> Inventory:
        changes_before = self._stream_changes
        started = time.perf_counter()
        try:
            objects, calls = self._retrieve(content)
        except vmodl.fault.ManagedObjectNotFound:
            # Our views died with a session the server ended (vcsim says so before it says
            # NotAuthenticated): make new ones; a dead session then re-logs in (Session.call).
            self._views = None
            objects, calls = self._retrieve(content)
        inventory = build(as_records(objects), backend=self.name, label=self.endpoint.label)
        self.stats.retrieve_s += time.perf_counter() - started
        self.stats.retrievals += 1
        self.stats.soap_calls += calls
        inventory.calls = calls
        with self._patch_lock:
            self._last = inventory
            self._full_at = time.monotonic()
            self._served = {"hosts": self._stream_changes, "vms": self._stream_changes}
            # A change that arrived while we read may or may not be in what we read.
            self._needs_full = self._stream_changes != changes_before
        return inventory

    def _retrieve(self, content: Any) -> tuple[list[Any], int]:
        views, extra = self._scope(content)
        spec = filter_spec(views, content.customFieldsManager, extra)
        return retrieve(content.propertyCollector, spec)

    def _scope(self, content: Any) -> tuple[list[Any], list[Any]]:
        """ContainerViews over what this source lists (made once per login: a view belongs to
        its session), and the filtered datacenters themselves (to name them)."""
        login = self.session.logins
        if self._views is not None and self._views[0] == login:
            return self._views[1], self._views[2]
        if not self.datacenters:
            scope = [content.viewManager.CreateContainerView(content.rootFolder, VIEW_TYPES, True)]
            extra: list[Any] = []
        else:
            extra = [self._datacenter(content, path) for path in self.datacenters]
            scope = [content.viewManager.CreateContainerView(dc, VIEW_TYPES, True) for dc in extra]
        self._views = (login, scope, extra)
        return scope, extra

    def _datacenter(self, content: Any, path: str) -> Any:
        found = content.searchIndex.FindByInventoryPath(path)
        if not isinstance(found, vim.Datacenter):
            raise NovaError(Code.CONFIG_INVALID, f"datacenter {path!r} of source {self.name}",
                            f"vSphere at {self.endpoint.label} has no datacenter at that "
                            "inventory path (write folder/name for one inside a folder)")
        return found

    def watch(self, on_change: Callable[[], None]) -> None:
        """SupportsEvents: `on_change` runs on the caller's loop when vCenter reports a
        change (power, host, name, size, IPs), from WaitForUpdatesEx on its own thread. The
        change is patched into the last inventory first, so the poll it triggers usually
        costs no retrieval (`patch.py`)."""
        if self._stream is None:
            stream_session = Session(self.endpoint, http_timeout_s=WAIT_S + self.timeout_s)
            self._stream = UpdateStream(stream_session, self.name, self._on_stream_update)
        self._stream.subscribe(asyncio.get_running_loop(), on_change)

    @property
    def update_stream(self) -> UpdateStream | None:
        return self._stream

    async def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                asyncio.get_running_loop().run_in_executor(self._executor, self.session.logout), 2)
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- helpers for the capability modules -------------------------------------------------

    def vm_ref(self, content: Any, vm_id: str) -> Any:
        """The VM by its id (instance UUID), moid or (unique) name. Runs on a worker thread."""
        stub = self.session.stub
        moid = self._last.vm_moids.get(vm_id)
        if moid is None and MOID.match(vm_id):
            moid = vm_id
        if moid is not None:
            return vim.VirtualMachine(moid, stub)
        found = content.searchIndex.FindByUuid(None, vm_id, True, True)
        if found is not None:
            return found
        named = [vm.id for vm in self._last.vms if vm.name == vm_id]
        if len(named) == 1:
            return vim.VirtualMachine(self._last.vm_moids[named[0]], stub)
        raise NovaError(Code.VM_NOT_FOUND, vm_id,
                        f"vSphere at {self.endpoint.label} has no VM with that instance UUID"
                        + (f" (and {len(named)} VMs have that name)" if named else ""))

    def vm_name(self, vm_id: str) -> str:
        return next((vm.name for vm in self._last.vms if vm.id == vm_id), vm_id)


def _consume(future: asyncio.Future[Any]) -> None:
    """Read a shared retrieval's exception so a poll cancelled mid-way logs nothing."""
    if not future.cancelled():
        future.exception()
