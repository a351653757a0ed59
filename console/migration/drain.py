"""Drain a host: every running VM off it, `concurrency` at a time, each to its planned target."""

from __future__ import annotations

import asyncio
import time
import uuid

from backends.base import MigrationOptions
from console.errors import NovaError
from console.migration.plan import DrainPlan, plan_drain
from console.migration.state import DrainSummary, MigrationState
from console.migration.tracker import MigrationTracker
from console.models import VM, FleetSnapshot, MigrationPhase

DEFAULT_DRAIN_CONCURRENCY = 2


async def drain(tracker: MigrationTracker, host: str, snapshot: FleetSnapshot, *,
                concurrency: int = DEFAULT_DRAIN_CONCURRENCY,
                options: MigrationOptions | None = None,
                plan: DrainPlan | None = None) -> DrainSummary:
    """Migrate every running VM off `host`, `concurrency` at a time."""
    started = time.monotonic()
    plan = plan or plan_drain(host, snapshot, tracker.busy())
    hosts = {h.name: h for h in snapshot.hosts}
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(vm: VM, target: str) -> MigrationState:
        async with gate:
            try:
                state = await tracker.start(vm, hosts[target], options)
            except NovaError as err:
                return MigrationState(
                    id=uuid.uuid4().hex[:12], vm_id=vm.id, vm_name=vm.name, source=host,
                    target=target, source_backend=vm.backend,
                    target_backend=hosts[target].backend, phase=MigrationPhase.FAILED,
                    queued_at=time.time(), error=str(err))
            return await tracker.wait(state.id)

    results = await asyncio.gather(*(one(vm, target) for vm, target in plan.moves))
    return DrainSummary(host=host, plan=plan, results=tuple(results),
                        elapsed_s=time.monotonic() - started)
