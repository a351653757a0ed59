"""The adapter contract: one small core protocol plus capability protocols.

The fleet polls anything that is a `Backend`. The action dispatcher asks
`isinstance(backend, SupportsPower)` (and so on) at run time, so a backend implements only
what it can really do: there are no `NotImplementedError` stubs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from console.models import VM, Host, MetricSample, Migration, Snapshot, VMState


@runtime_checkable
class Backend(Protocol):
    """A source of hosts and VMs. All methods are coroutines and never block the loop."""

    name: str
    """The name the operator gave this source in the config (unique in a context)."""

    kind: str
    """The registered kind, e.g. ``libvirt``."""

    async def hosts(self) -> Sequence[Host]:
        """Every host this source covers, as of now."""
        ...

    async def vms(self) -> Sequence[VM]:
        """Every VM this source covers, as of now."""
        ...

    async def close(self) -> None:
        """Release connections and threads; the backend is not used afterwards."""
        ...


@runtime_checkable
class SupportsEvents(Protocol):
    """A backend that can say "something changed" between polls (libvirt lifecycle events)."""

    def watch(self, on_change: Callable[[], None]) -> None:
        """Call `on_change` (on the event loop) whenever the inventory may have changed."""
        ...


@runtime_checkable
class SupportsPower(Protocol):
    """Lifecycle actions on one VM, addressed by its backend id."""

    async def start(self, vm_id: str) -> None: ...
    async def shutdown(self, vm_id: str, timeout_s: float = 60.0) -> None: ...
    async def reboot(self, vm_id: str) -> None: ...
    async def force_off(self, vm_id: str) -> None: ...
    async def suspend(self, vm_id: str) -> None: ...
    async def resume(self, vm_id: str) -> None: ...
    async def delete(self, vm_id: str, remove_storage: bool = False) -> None: ...


@runtime_checkable
class SupportsSnapshots(Protocol):
    async def snapshots(self, vm_id: str) -> Sequence[Snapshot]: ...
    async def create_snapshot(self, vm_id: str, name: str, description: str = "") -> None: ...
    async def revert_snapshot(self, vm_id: str, name: str) -> None: ...
    async def delete_snapshot(self, vm_id: str, name: str) -> None: ...


@dataclass(frozen=True, slots=True)
class MigrationOptions:
    """How to live-migrate. The defaults are what an operator wants on a healthy fleet."""

    live: bool = True
    peer_to_peer: bool = True
    """The source host drives the migration: a console that dies mid-way strands nothing."""
    persistent: bool = True
    """Define the guest on the target…"""
    undefine_source: bool = True
    """…and remove its definition from the source once it runs on the target."""
    auto_converge: bool = False
    post_copy: bool = False
    """Allow switching to post-copy (`SupportsMigration.start_post_copy`)."""
    bandwidth_mib_s: int | None = None
    max_downtime_ms: int | None = None
    copy_storage: str = "none"
    """`none` (shared storage), `all` (full disk copy) or `inc` (incremental)."""
    migrate_uri: str | None = None
    """Data connection on the destination (e.g. `tcp://10.0.0.2`); None: derived."""
    timeout_s: float = 6 * 3600.0


@dataclass(frozen=True, slots=True)
class DomainPresence:
    """Where a VM is on one host, for re-reading a migration after a restart."""

    present: bool
    active: bool = False
    state: VMState = VMState.UNKNOWN
    migrating_out: bool = False
    """A migration job to another host is running on it (this is the source)."""
    migrating_in: bool = False
    """It is the incoming half of a migration (paused, waiting for the data)."""
    post_copy: bool = False


@runtime_checkable
class SupportsMigration(Protocol):
    """Live migration. `migrate` returns when the migration has ended (or raises)."""

    async def migrate(self, vm_id: str, target: Backend,
                      options: MigrationOptions | None = None) -> None: ...
    async def migration_progress(self, vm_id: str) -> Migration | None: ...
    async def cancel_migration(self, vm_id: str) -> None: ...
    async def start_post_copy(self, vm_id: str) -> None: ...
    async def presence(self, vm_id: str) -> DomainPresence: ...


@runtime_checkable
class SupportsMetrics(Protocol):
    async def samples(self) -> Sequence[MetricSample]: ...


@runtime_checkable
class SupportsConsole(Protocol):
    async def console_command(self, vm_id: str) -> Sequence[str]:
        """The argv that attaches the operator's terminal to the VM's serial console."""
        ...
