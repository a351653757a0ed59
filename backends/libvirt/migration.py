"""Live migration for the libvirt backend (`SupportsMigration`).

Peer-to-peer by default: the source libvirtd connects to the destination itself and drives the
whole migration, so a console that dies half-way strands nothing — the daemon finishes (or
fails) on its own and the next console reads the outcome from the hosts.

`migrateToURI3` blocks for the whole migration, so it runs on its own thread and its own
connection (never the poll threads, never the shared connection a keepalive may drop). Progress
is read separately with `jobStats()` on the shared connection, under a short timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import urlsplit

import libvirt

from backends.base import DomainPresence, MigrationOptions
from console.errors import Code, NovaError
from console.models import Migration, MigrationPhase, VMState

from .connect import Transport, open_connection
from .errors import translate
from .parse import vm_state

T = TypeVar("T")

PROGRESS_TIMEOUT_S = 5.0
CONTROL_TIMEOUT_S = 15.0
DEFAULT_PAGE_SIZE = 4096
COPY_STORAGE_FLAGS = {
    "none": 0,
    "all": libvirt.VIR_MIGRATE_NON_SHARED_DISK,
    "inc": libvirt.VIR_MIGRATE_NON_SHARED_INC,
}


def migration_flags(options: MigrationOptions) -> int:
    """The `VIR_MIGRATE_*` flags for `options`."""
    if options.copy_storage not in COPY_STORAGE_FLAGS:
        raise NovaError(Code.NOT_SUPPORTED, f"copy_storage={options.copy_storage!r}",
                        "use none, all or inc")
    flags = COPY_STORAGE_FLAGS[options.copy_storage]
    for wanted, flag in (
        (options.live, libvirt.VIR_MIGRATE_LIVE),
        (options.peer_to_peer, libvirt.VIR_MIGRATE_PEER2PEER),
        (options.persistent, libvirt.VIR_MIGRATE_PERSIST_DEST),
        (options.undefine_source, libvirt.VIR_MIGRATE_UNDEFINE_SOURCE),
        (options.auto_converge, libvirt.VIR_MIGRATE_AUTO_CONVERGE),
        (options.post_copy, libvirt.VIR_MIGRATE_POSTCOPY),
    ):
        if wanted:
            flags |= flag
    return flags


def migration_uri(target_uri: str) -> str | None:
    """Where the destination listens for the migration data, derived from its libvirt URI.

    `tcp://HOST` without a port: the destination picks a free port from its own
    `migration_port_min`..`max`, so concurrent migrations to one host never collide. A local
    URI (`qemu:///system`) has no host: None lets libvirt use the destination's hostname.
    """
    host = urlsplit(target_uri).hostname
    if not host:
        return None
    return f"tcp://[{host}]" if ":" in host else f"tcp://{host}"


def migration_params(options: MigrationOptions, target_uri: str) -> dict[str, Any]:
    """The typed parameters for `migrateToURI3` / `migrate3`."""
    params: dict[str, Any] = {}
    uri = options.migrate_uri or migration_uri(target_uri)
    if uri:
        params[libvirt.VIR_MIGRATE_PARAM_URI] = uri
    if options.bandwidth_mib_s:
        params[libvirt.VIR_MIGRATE_PARAM_BANDWIDTH] = int(options.bandwidth_mib_s)
        if options.post_copy:
            params[libvirt.VIR_MIGRATE_PARAM_BANDWIDTH_POSTCOPY] = int(options.bandwidth_mib_s)
    return params


def progress_from_stats(stats: dict[str, Any], *, vm_id: str, vm_name: str, source: str,
                        post_copy: bool = False) -> Migration | None:
    """A `Migration` from one `jobStats()` dict; None when no outgoing migration job runs."""
    if int(stats.get("type", libvirt.VIR_DOMAIN_JOB_NONE)) == libvirt.VIR_DOMAIN_JOB_NONE:
        return None
    operation = stats.get("operation")
    if operation is not None and int(operation) != libvirt.VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT:
        return None
    page = int(stats.get("memory_page_size") or DEFAULT_PAGE_SIZE)
    return Migration(
        id=vm_id, vm_id=vm_id, vm_name=vm_name, source=source, target="",
        phase=MigrationPhase.POSTCOPY if post_copy else MigrationPhase.RUNNING,
        data_total=int(stats.get("data_total", 0)),
        data_processed=int(stats.get("data_processed", 0)),
        data_remaining=int(stats.get("data_remaining", 0)),
        throughput_bps=float(stats.get("memory_bps", 0)),
        dirty_rate_bps=float(stats.get("memory_dirty_rate", 0)) * page,
        iteration=int(stats.get("memory_iteration", 0)),
        expected_downtime_ms=int(stats.get("downtime", 0)),
        elapsed_s=int(stats.get("time_elapsed", 0)) / 1000.0,
    )


def _in_post_copy(dom: libvirt.virDomain) -> bool:
    state, reason = dom.state()
    if state == libvirt.VIR_DOMAIN_PAUSED:
        return reason in (libvirt.VIR_DOMAIN_PAUSED_POSTCOPY,
                          libvirt.VIR_DOMAIN_PAUSED_POSTCOPY_FAILED)
    return state == libvirt.VIR_DOMAIN_RUNNING and reason == libvirt.VIR_DOMAIN_RUNNING_POSTCOPY


class MigrationMixin:
    """`SupportsMigration` for `LibvirtBackend` (which supplies the attributes below)."""

    name: str
    uri: str
    host_name: str
    read_only: bool
    transport: Transport
    _guarded: Callable[..., Any]
    connection: Callable[[], libvirt.virConnect]
    domain: Callable[[str], libvirt.virDomain]

    _migration_pool: ThreadPoolExecutor | None = None
    _migration_pool_lock = threading.Lock()

    def _pool(self) -> ThreadPoolExecutor:
        with self._migration_pool_lock:
            if self._migration_pool is None:
                self._migration_pool = ThreadPoolExecutor(
                    max_workers=16, thread_name_prefix=f"migrate-{self.name}")
            return self._migration_pool

    async def _on_pool(self, fn: Callable[..., T], *args: Any, timeout_s: float) -> T:
        """Like `_call`, but on the migration threads, so a long call never starves polling."""
        future = asyncio.get_running_loop().run_in_executor(self._pool(), self._translated, fn, args)
        try:
            return await asyncio.wait_for(future, timeout_s)
        except TimeoutError as exc:
            raise NovaError(Code.TIMEOUT, self.name, f"no answer within {timeout_s:g} s") from exc

    async def _on_own_thread(self, fn: Callable[..., T], *args: Any, timeout_s: float) -> T:
        """For the call that lasts the whole migration: a daemon thread of its own, so a
        console that quits mid-way is not held up (the source host carries on, P2P)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def settle(ok: bool, value: Any) -> None:
            if not future.done():
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)

        def work() -> None:
            try:
                outcome: tuple[bool, Any] = (True, self._translated(fn, args))
            except BaseException as exc:
                outcome = (False, exc)
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting
                loop.call_soon_threadsafe(settle, *outcome)

        threading.Thread(target=work, name=f"migrate-{self.name}", daemon=True).start()
        try:
            return await asyncio.wait_for(future, timeout_s)
        except TimeoutError as exc:
            raise NovaError(Code.TIMEOUT, self.name, f"no answer within {timeout_s:g} s") from exc

    def _translated(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        try:
            return fn(*args)
        except libvirt.libvirtError as err:
            raise translate(err, self.name) from err

    def _refuse_read_only(self) -> None:
        if self.read_only:
            raise NovaError(Code.READ_ONLY, self.name, "the connection is read-only")

    # -- SupportsMigration ------------------------------------------------------------------

    async def migrate_to(self, vm_id: str, *, target: str, target_uri: str,
                         **options: Any) -> None:
        """Live-migrate `vm_id` to the host at `target_uri` (its libvirt URI); returns when the
        migration has ended. `options` are `MigrationOptions` fields as plain values."""
        self._refuse_read_only()
        known = {f.name for f in dataclasses.fields(MigrationOptions)}
        if unknown := options.keys() - known:
            raise NovaError(Code.NOT_SUPPORTED, f"migrate {', '.join(sorted(unknown))}",
                            f"known options: {', '.join(sorted(known))}")
        chosen = MigrationOptions(**options)
        if not target_uri:
            raise NovaError(Code.NOT_SUPPORTED, f"{self.name} → {target}",
                            "the target is not a libvirt host")
        flags = migration_flags(chosen)
        params = migration_params(chosen, target_uri)
        try:
            await self._on_own_thread(self._migrate_sync, vm_id, target_uri, flags,
                                      params, chosen, timeout_s=chosen.timeout_s)
        except NovaError as err:
            if err.kind is Code.TIMEOUT:
                with contextlib.suppress(NovaError):
                    await self.cancel_migration(vm_id)
            raise

    def _migrate_sync(self, vm_id: str, target_uri: str, flags: int,
                      params: dict[str, Any], options: MigrationOptions) -> None:
        # its own connection: nothing else can drop it mid-way
        conn = open_connection(self.uri, transport=self.transport)
        try:
            dom = _lookup(conn, vm_id)
            if options.max_downtime_ms:
                dom.migrateSetMaxDowntime(int(options.max_downtime_ms), 0)
            if flags & libvirt.VIR_MIGRATE_PEER2PEER:
                dom.migrateToURI3(target_uri, params, flags)
            else:
                dconn = open_connection(target_uri)
                try:
                    dom.migrate3(dconn, params, flags)
                finally:
                    with contextlib.suppress(libvirt.libvirtError):
                        dconn.close()
        finally:
            with contextlib.suppress(libvirt.libvirtError):
                conn.close()

    async def migration_progress(self, vm_id: str) -> Migration | None:
        """The running outgoing migration of `vm_id`, or None when there is none."""
        return await self._on_pool(self._progress_sync, vm_id, timeout_s=PROGRESS_TIMEOUT_S)

    def _progress_sync(self, vm_id: str) -> Migration | None:
        dom = self.domain(vm_id)
        if not dom.isActive():  # e.g. just migrated away, not yet undefined
            return None
        stats = dom.jobStats(0)
        return progress_from_stats(stats, vm_id=dom.UUIDString(), vm_name=dom.name(),
                                   source=self.host_name, post_copy=_in_post_copy(dom))

    async def cancel_migration(self, vm_id: str) -> None:
        """Abort the migration job; the guest keeps running on this (source) host.

        In post-copy the guest already runs on the target and libvirt cannot abort: refused.
        """
        self._refuse_read_only()
        await self._on_pool(self._cancel_sync, vm_id, timeout_s=CONTROL_TIMEOUT_S)

    def _cancel_sync(self, vm_id: str) -> None:
        dom = self.domain(vm_id)
        if _in_post_copy(dom):
            raise NovaError(Code.INVALID_STATE, dom.name(),
                            "the migration is in post-copy: the guest already runs on the "
                            "target and cannot be pulled back; let it finish")
        dom.abortJob()

    async def start_post_copy(self, vm_id: str) -> None:
        """Switch a migration started with `post_copy=True` to post-copy now."""
        self._refuse_read_only()
        await self._on_pool(lambda: self.domain(vm_id).migrateStartPostCopy(0),
                            timeout_s=CONTROL_TIMEOUT_S)

    async def presence(self, vm_id: str) -> DomainPresence:
        """Is `vm_id` here, running, in a migration? (For re-reading after a restart.)"""
        return await self._on_pool(self._presence_sync, vm_id, timeout_s=PROGRESS_TIMEOUT_S)

    def _presence_sync(self, vm_id: str) -> DomainPresence:
        try:
            return self._presence_of(self.connection().lookupByUUIDString(vm_id))
        except libvirt.libvirtError as err:
            # Also when the domain is undefined between the lookup and the reads that follow
            # (the end of a migration away from this host).
            if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return DomainPresence(present=False)
            raise

    @staticmethod
    def _presence_of(dom: libvirt.virDomain) -> DomainPresence:
        state, reason = dom.state()
        active = bool(dom.isActive())
        operation = None
        if active:
            with contextlib.suppress(libvirt.libvirtError):
                stats = dom.jobStats(0)
                if int(stats.get("type", 0)) != libvirt.VIR_DOMAIN_JOB_NONE:
                    operation = int(stats.get("operation", -1))
        incoming = (state == libvirt.VIR_DOMAIN_PAUSED
                    and reason == libvirt.VIR_DOMAIN_PAUSED_MIGRATION
                    and operation != libvirt.VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT)
        return DomainPresence(
            present=True, active=active,
            state=vm_state(state, reason) if active else VMState.STOPPED,
            migrating_out=operation == libvirt.VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT,
            migrating_in=incoming, post_copy=_in_post_copy(dom))


def _lookup(conn: libvirt.virConnect, vm_id: str) -> libvirt.virDomain:
    try:
        return conn.lookupByUUIDString(vm_id)
    except libvirt.libvirtError:
        return conn.lookupByName(vm_id)
