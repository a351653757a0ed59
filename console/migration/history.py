"""The tracker's view of the store's migration history (`console.store`'s migration table).

A row is written when a migration starts, before the backend is called, and closed when it
ends; rows never closed are what `MigrationTracker.recover` re-reads from the hosts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from console.migration.state import MigrationState
from console.models import MigrationPhase

if TYPE_CHECKING:
    from backends.base import Backend
    from console.migration.state import MigrationState


class MigrationStore(Protocol):
    """The part of `console.store` this module uses."""

    async def record_migration_start(self, *, context: str, vm_id: str, vm_name: str,
                                     source: str, target: str, job_id: str = "",
                                     audit_id: int | None = None) -> int: ...
    async def record_migration_end(self, record_id: int, phase: MigrationPhase | str,
                                   stats: Any = None, error: str = "") -> Any: ...
    async def unfinished_migrations(self, context: str | None = None) -> list[Any]: ...


@dataclass(frozen=True, slots=True)
class HistoryRecord:
    key: int
    state: MigrationState


def backend_for_host(backends: Mapping[str, Backend], host: str) -> str:
    """The source name serving `host` (a libvirt backend is named after its host by default)."""
    if host in backends:
        return host
    for name, backend in backends.items():
        if getattr(backend, "host_name", None) == host:
            return name
    return host


class History:
    """Writes and reads migration rows through the store."""

    def __init__(self, store: MigrationStore,
                 backends: Callable[[], Mapping[str, Backend]] | None = None) -> None:
        self.store = store
        self._backends = backends or dict

    async def started(self, context: str, state: MigrationState) -> int:
        return await self.store.record_migration_start(
            context=context, vm_id=state.vm_id, vm_name=state.vm_name, source=state.source,
            target=state.target, job_id=state.id)

    async def ended(self, key: int | str, state: MigrationState) -> None:
        stats: dict[str, Any] = {"duration_s": round(state.duration_s or 0.0, 3),
                                 "percent": round(state.percent, 1)}
        if state.progress is not None:
            p = state.progress
            stats |= {"data_total": p.data_total, "data_processed": p.data_processed,
                      "data_remaining": p.data_remaining, "throughput_bps": p.throughput_bps,
                      "dirty_rate_bps": p.dirty_rate_bps, "iteration": p.iteration,
                      "expected_downtime_ms": p.expected_downtime_ms}
        await self.store.record_migration_end(int(key), state.phase, stats,
                                              state.error or state.note)

    async def unfinished(self, context: str) -> list[HistoryRecord]:
        backends = self._backends()
        out = []
        for row in await self.store.unfinished_migrations(context):
            out.append(HistoryRecord(key=row.id, state=MigrationState(
                id=row.job_id or f"record-{row.id}", vm_id=row.vm_id, vm_name=row.vm_name,
                source=row.source, target=row.target,
                source_backend=backend_for_host(backends, row.source),
                target_backend=backend_for_host(backends, row.target),
                phase=MigrationPhase.RUNNING, queued_at=row.started_at,
                started_at=row.started_at)))
        return out
