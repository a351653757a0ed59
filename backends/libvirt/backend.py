"""A libvirt host as a NovaCron backend: one connection, one `getAllDomainStats` per poll.

Every libvirt call is blocking, so each runs on this backend's own small thread pool under a
timeout: a host that hangs ties up its own threads, never the event loop or other hosts.
A broken connection is dropped and reopened on the next call, so a host that comes back is
picked up by the next poll without anyone doing anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import libvirt

from console.errors import Code, NovaError
from console.models import VM, Host

from . import events
from .addresses import AddressBook
from .connect import DIRECT, Transport, open_connection
from .console import ConsoleMixin
from .create import CreateMixin
from .errors import CONNECTION_CODES, translate
from .migration import MigrationMixin
from .parse import DomainDetails, domain_details, host_arch, host_from_info, vm_from_stats
from .power import PowerMixin
from .resize import ResizeMixin
from .snapshots import SnapshotsMixin
from .uri import check_uri

T = TypeVar("T")
log = logging.getLogger(__name__)

STATS = (
    libvirt.VIR_DOMAIN_STATS_STATE
    | libvirt.VIR_DOMAIN_STATS_CPU_TOTAL
    | libvirt.VIR_DOMAIN_STATS_BALLOON
    | libvirt.VIR_DOMAIN_STATS_VCPU
)
STATS_FLAGS = libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT
"""NOWAIT: a domain inside a migration job would otherwise block the whole call for ~30 s."""

HAS_LEASE_STATES = frozenset({libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_BLOCKED,
                              libvirt.VIR_DOMAIN_PAUSED, libvirt.VIR_DOMAIN_SHUTDOWN})
"""Domain states in which a guest holds its DHCP lease (so asking for addresses makes sense)."""

SIMULATED = ("its guests are simulated (libvirt's test driver, as in the demo) and cannot "
             "live-migrate: rehearse on real KVM hosts with `novacron lab up` (root), then "
             "`novacron --context lab`")
"""What a test-driver host says when asked to migrate (the demo fleet's hosts)."""

KEEPALIVE_INTERVAL_S = 5
KEEPALIVE_COUNT = 3


events.silence_default_error_handler()


class LibvirtBackend(PowerMixin, SnapshotsMixin, MigrationMixin, CreateMixin, ResizeMixin,
                     ConsoleMixin):
    """One libvirt connection URI (one hypervisor host).

    Lifecycle, snapshot, create and resize actions live in `power.py`, `snapshots.py`,
    `create.py` and `resize.py` (mixins), so this class satisfies `SupportsPower`,
    `SupportsSnapshots`, `SupportsCreate` and `SupportsResize` while staying about connections;
    `console.py` adds the host's SSH link (shell, host keys) and the VMs' serial consoles.
    """

    kind = "libvirt"

    def __init__(
        self,
        name: str,
        uri: str,
        *,
        read_only: bool = False,
        timeout_s: float = 10.0,
        host_name: str | None = None,
        transport: Transport = DIRECT,
    ) -> None:
        check_uri(uri)
        self.transport = transport
        self.name = name
        self.uri = uri
        self.read_only = read_only
        self.timeout_s = timeout_s
        self.host_name = host_name or name
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix=f"libvirt-{name}")
        self._conn: libvirt.virConnect | None = None
        self._conn_lock = threading.Lock()
        self._details: dict[str, DomainDetails] = {}
        self._addresses = AddressBook()
        self._on_change: list[tuple[asyncio.AbstractEventLoop, Callable[[], None]]] = []
        self._event_callback_id: int | None = None
        self._cpu_sample: tuple[float, int, int] | None = None
        self._arch_name: str | None = None

    # -- plumbing ---------------------------------------------------------------------------

    async def _call(self, fn: Callable[..., T], *args: Any, timeout_s: float | None = None) -> T:
        """Run `fn(*args)` on this host's threads; map libvirt errors and timeouts."""
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, self._guarded, fn, args)
        try:
            return await asyncio.wait_for(future, timeout_s or self.timeout_s)
        except TimeoutError as exc:
            limit = timeout_s or self.timeout_s
            raise NovaError(Code.TIMEOUT, self.name, f"no answer within {limit:g} s") from exc

    def _guarded(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        try:
            return fn(*args)
        except libvirt.libvirtError as err:
            nova = translate(err, self.name)
            if nova.kind in CONNECTION_CODES:
                self._drop_connection()
            raise nova from err
        finally:
            events.wake()

    def connection(self) -> libvirt.virConnect:
        """The open connection, (re)opened on demand. Runs on a worker thread."""
        with self._conn_lock:
            if self._conn is not None and self._conn.isAlive():
                return self._conn
            self._conn = None
            if self.transport is not DIRECT:
                events.ensure_started()  # keepalive over a tunnel needs libvirt's event loop
            conn = open_connection(self.uri, read_only=self.read_only, transport=self.transport)
            if events.started():
                # Local drivers (test://, qemu:///) have nothing to keep alive and refuse.
                with contextlib.suppress(libvirt.libvirtError):
                    conn.setKeepAlive(KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT)
                try:
                    conn.registerCloseCallback(self._closed, None)
                    self._event_callback_id = conn.domainEventRegisterAny(
                        None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._lifecycle, None
                    )
                except libvirt.libvirtError:
                    self._event_callback_id = None
            self._conn = conn
            return conn

    def _drop_connection(self) -> None:
        with self._conn_lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(libvirt.libvirtError):
                conn.close()

    def _closed(self, _conn: object, _reason: int, _opaque: object) -> None:
        """libvirt says the connection died (keepalive or EOF): forget it, tell the fleet."""
        with self._conn_lock:
            self._conn = None
        self._notify()

    def _lifecycle(self, _conn: object, dom: Any, _event: int, _detail: int, _opaque: object) -> None:
        """A domain started, stopped, was defined…: re-read its XML if it was (re)defined."""
        if _event in (libvirt.VIR_DOMAIN_EVENT_DEFINED, libvirt.VIR_DOMAIN_EVENT_UNDEFINED):
            self._details.pop(dom.UUIDString(), None)
        self._notify()

    def _notify(self) -> None:
        for loop, callback in list(self._on_change):
            if not loop.is_closed():
                loop.call_soon_threadsafe(callback)

    # -- Backend ----------------------------------------------------------------------------

    def watch(self, on_change: Callable[[], None]) -> None:
        """Call `on_change` on the caller's loop when a domain changes or the link drops."""
        events.ensure_started()
        self._on_change.append((asyncio.get_running_loop(), on_change))

    async def hosts(self) -> Sequence[Host]:
        host = await self._call(self._read_host)
        try:
            facts = await self.transport.host_facts()
        except NovaError as err:  # libvirt answered: the host is up, only its facts are missing
            log.info("no host facts: %s", err, extra={"source": self.name})
            facts = None
        if facts is None:
            return [host]
        return [dataclasses.replace(host, load_1m=facts.load_1m, load_5m=facts.load_5m,
                                    load_15m=facts.load_15m,
                                    memory_available_bytes=facts.memory_available_bytes,
                                    uptime_s=facts.uptime_s)]

    def _read_host(self) -> Host:
        conn = self.connection()
        info = conn.getInfo()
        try:
            free = conn.getFreeMemory()
        except libvirt.libvirtError:
            free = None
        host = host_from_info(
            name=self.host_name, backend=self.name, uri=self.uri, info=info,
            free_memory=free, hypervisor=conn.getType(), arch=self._arch(conn),
        )
        return dataclasses.replace(host, cpu_usage=self._cpu_usage(conn),
                                   cannot_migrate=SIMULATED if host.hypervisor == "TEST" else "")

    def _arch(self, conn: libvirt.virConnect) -> str:
        if self._arch_name is None:
            self._arch_name = host_arch(conn.getCapabilities())
        return self._arch_name

    def _cpu_usage(self, conn: libvirt.virConnect) -> float | None:
        """Busy fraction of all host CPUs between this poll and the last (None at first)."""
        try:
            stats = conn.getCPUStats(libvirt.VIR_NODE_CPU_STATS_ALL_CPUS)
        except libvirt.libvirtError:
            return None
        idle = int(stats.get("idle", 0)) + int(stats.get("iowait", 0))
        total = sum(int(v) for v in stats.values())
        previous, self._cpu_sample = self._cpu_sample, (time.monotonic(), idle, total)
        if previous is None or total <= previous[2]:
            return None
        return max(0.0, min(1.0, 1 - (idle - previous[1]) / (total - previous[2])))

    async def vms(self) -> Sequence[VM]:
        return await self._call(self._read_vms)

    def _read_vms(self) -> list[VM]:
        conn = self.connection()
        records = [(dom, dom.UUIDString(), stats)
                   for dom, stats in conn.getAllDomainStats(STATS, STATS_FLAGS)]
        seen = {uuid for _dom, uuid, _stats in records}
        self._addresses.new_poll(seen)
        vms: list[VM] = []
        for dom, uuid, stats in records:
            details = self._details.get(uuid)
            if details is None:
                details = domain_details(dom.XMLDesc(0))
                self._details[uuid] = details
            running = int(stats.get("state.state", 0)) in HAS_LEASE_STATES
            addresses = self._addresses.addresses(dom, uuid, running=running, has_nic=bool(details.macs))
            vms.append(vm_from_stats(uuid=uuid, name=dom.name(), stats=stats, details=details,
                                     host=self.host_name, backend=self.name, addresses=addresses))
        for gone in self._details.keys() - seen:
            del self._details[gone]
        return vms

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._drop_connection)
        self.transport.close()
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self._migration_pool is not None:
            self._migration_pool.shutdown(wait=False)

    # -- helpers for capability modules -----------------------------------------------------

    def domain(self, vm_id: str) -> libvirt.virDomain:
        """Look a domain up by UUID (or name, for the CLI). Runs on a worker thread."""
        conn = self.connection()
        try:
            return conn.lookupByUUIDString(vm_id)
        except libvirt.libvirtError:
            return conn.lookupByName(vm_id)

