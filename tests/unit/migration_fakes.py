"""A fake migrating host and an in-memory history store, for the tracker's logic (unit and
functional tests of the board). Real libvirt migrations are in tests/integration."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from backends.base import DomainPresence, MigrationOptions
from console.errors import Code, NovaError
from console.models import VM, FleetSnapshot, Host, Migration, MigrationPhase, VMState

MIB = 2**20


class FakeHost:
    """A host whose migrations advance 32 MiB per progress read.

    It lists its guests as libvirt does: running here, and MIGRATING for one arriving (the
    incoming half, while the source still lists it). `outside` starts a migration the way
    `virsh migrate` on another terminal would: no tracker involved.
    """

    kind = "fake"

    def __init__(self, name: str, world: dict[str, str]) -> None:
        self.name = self.host_name = name
        self.uri = f"fake://{name}"
        self.world = world  # vm_id -> host it runs on
        self.jobs: dict[str, asyncio.Event] = {}
        self.sent: dict[str, int] = {}
        self.step = 32  # MiB sent per progress read
        self.incoming: set[str] = set()
        self.progress_reads = 0
        self.peers: dict[str, FakeHost] = {}

    async def hosts(self) -> list[Host]:
        return [Host(id=self.name, name=self.name, backend=self.name)]

    async def vms(self) -> list[VM]:
        here = [(u, VMState.RUNNING) for u, h in self.world.items() if h == self.name]
        return [VM(id=u, name=f"vm-{u}", state=state, host=self.name, backend=self.name)
                for u, state in here + [(u, VMState.MIGRATING) for u in sorted(self.incoming)]]

    async def close(self) -> None: ...

    async def migrate_to(self, vm_id: str, *, target: str, target_uri: str,
                         **options: object) -> None:
        assert target_uri == f"fake://{target}"
        MigrationOptions(**options)  # type: ignore[arg-type]  # what the tracker sends is valid
        return await self._migrate(vm_id, self.peers[target])

    async def _migrate(self, vm_id: str, target: FakeHost) -> None:
        done = self.jobs[vm_id] = asyncio.Event()
        self.sent[vm_id] = 0
        target.incoming.add(vm_id)
        await done.wait()
        del self.jobs[vm_id]
        target.incoming.discard(vm_id)
        if self.sent.pop(vm_id) < 0:
            raise NovaError(Code.BACKEND_ERROR, vm_id, "operation aborted")
        self.world[vm_id] = target.name

    def outside(self, vm_id: str, target: FakeHost) -> asyncio.Task[None]:
        """A migration started elsewhere (another console, `virsh migrate`)."""
        task = asyncio.create_task(self._migrate(vm_id, target))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())  # aborted: expected
        return task

    async def migration_progress(self, vm_id: str) -> Migration | None:
        self.progress_reads += 1
        await asyncio.sleep(0)  # a real host answers later: others run meanwhile
        if vm_id not in self.jobs or self.jobs[vm_id].is_set():  # none, or winding down
            return None
        self.sent[vm_id] += self.step * MIB
        if self.sent[vm_id] >= 128 * MIB:
            self.jobs[vm_id].set()
        return Migration(id=vm_id, vm_id=vm_id, vm_name=vm_id, source=self.name, target="",
                         phase=MigrationPhase.RUNNING, data_total=128 * MIB,
                         data_processed=self.sent[vm_id],
                         data_remaining=128 * MIB - self.sent[vm_id], throughput_bps=32 * MIB)

    async def cancel_migration(self, vm_id: str) -> None:
        self.sent[vm_id] = -1
        self.jobs[vm_id].set()

    async def start_post_copy(self, vm_id: str) -> None: ...

    async def presence(self, vm_id: str) -> DomainPresence:
        here = self.world.get(vm_id) == self.name
        return DomainPresence(present=here, active=here,
                              state=VMState.RUNNING if here else VMState.UNKNOWN,
                              migrating_out=vm_id in self.jobs)


class MemoryStore:
    def __init__(self) -> None:
        self.rows: dict[int, dict[str, object]] = {}

    async def record_migration_start(self, **fields: object) -> int:
        key = len(self.rows) + 1
        self.rows[key] = {**fields, "id": key, "started_at": 1.0, "finished_at": None}
        return key

    async def record_migration_end(self, record_id: int, phase: object, stats: object = None,
                                   error: str = "") -> None:
        self.rows[record_id] |= {"finished_at": 2.0, "phase": phase, "stats": stats}

    async def unfinished_migrations(self, context: str | None = None) -> list[object]:
        return [SimpleNamespace(**r) for r in self.rows.values() if r["finished_at"] is None]


def setup() -> tuple[dict[str, FakeHost], FleetSnapshot, dict[str, str]]:
    world = {"u1": "h1", "u2": "h1"}
    backends = {n: FakeHost(n, world) for n in ("h1", "h2")}
    for host in backends.values():
        host.peers = backends
    hosts = tuple(Host(id=n, name=n, backend=n, cpus=4, memory_bytes=8 * 2**30) for n in backends)
    vms = tuple(VM(id=u, name=f"vm-{u}", state=VMState.RUNNING, host="h1", backend="h1",
                   vcpus=1, memory_bytes=128 * MIB) for u in ("u1", "u2"))
    return backends, FleetSnapshot(context="t", taken_at=0, hosts=hosts, vms=vms), world
