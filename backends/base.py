"""The adapter contract: one small core protocol plus capability protocols.

The fleet polls anything that is a `Backend`. The action dispatcher asks
`isinstance(backend, SupportsPower)` (and so on) at run time, so a backend implements only
what it can really do: there are no `NotImplementedError` stubs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from console.models import VM, Host, MetricSample, Migration, Snapshot


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


@runtime_checkable
class SupportsMigration(Protocol):
    async def migrate(self, vm_id: str, target: Backend, **options: object) -> None: ...
    async def migration_progress(self, vm_id: str) -> Migration | None: ...
    async def cancel_migration(self, vm_id: str) -> None: ...


@runtime_checkable
class SupportsMetrics(Protocol):
    async def samples(self) -> Sequence[MetricSample]: ...


@runtime_checkable
class SupportsConsole(Protocol):
    async def console_command(self, vm_id: str) -> Sequence[str]:
        """The argv that attaches the operator's terminal to the VM's serial console."""
        ...
