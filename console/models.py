"""Frozen data passed from backends to the fleet and on to the screens.

Nothing here imports the rest of the project: every layer may depend on these types, and
they carry plain values only (no markup, no library handles), so a snapshot can be shared
between the polling thread, the UI and the store without copying.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class VMState(StrEnum):
    """Power state of a VM, normalised across libvirt, EC2 and Azure."""

    RUNNING = "running"
    STOPPED = "stopped"
    PAUSED = "paused"
    SUSPENDED = "suspended"
    CRASHED = "crashed"
    MIGRATING = "migrating"
    PENDING = "pending"
    UNKNOWN = "unknown"


class HostState(StrEnum):
    """Reachability of a host as the fleet last saw it."""

    UP = "up"
    STALE = "stale"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class Disk:
    """One block device attached to a VM."""

    target: str
    source: str = ""
    capacity_bytes: int = 0


@dataclass(frozen=True, slots=True)
class Host:
    """A hypervisor (or a cloud region/zone acting as one)."""

    id: str
    name: str
    backend: str
    state: HostState = HostState.UP
    hypervisor: str = ""
    arch: str = ""
    cpu_model: str = ""
    cpus: int = 0
    memory_bytes: int = 0
    free_memory_bytes: int | None = None
    cpu_usage: float | None = None
    """Fraction (0 to 1) of the host's CPUs busy since the previous poll, when known."""
    uri: str = ""
    stale: bool = False
    age_s: float = 0.0
    error: str = ""
    cannot_migrate: str = ""
    """Why this host cannot live-migrate at all, as its backend says (empty: it can)."""
    load_1m: float | None = None
    """Load averages, available memory and uptime from the host's own /proc (an SSH-reached
    host); None where the source cannot see them."""
    load_5m: float | None = None
    load_15m: float | None = None
    memory_available_bytes: int | None = None
    uptime_s: float | None = None
    cluster: str = ""
    """The cluster the source groups the host in (a vSphere cluster), when it has one."""
    datacenter: str = ""
    """The datacenter (or region) above it, when the source has one."""


@dataclass(frozen=True, slots=True)
class VM:
    """A virtual machine as listed by one backend.

    `key` is unique across the whole fleet (backend + id); `id` is unique within a backend
    (a libvirt UUID, an EC2 instance id, an Azure resource id).
    """

    id: str
    name: str
    state: VMState
    host: str
    backend: str
    vcpus: int = 0
    memory_bytes: int = 0
    disks: tuple[Disk, ...] = ()
    addresses: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    cpu_time_ns: int = 0
    cpu_used_cores: float | None = None
    """CPU cores busy, as a source that computes the rate itself reports it (Prometheus'
    `rate()` of the VM's CPU time); None when the source gives cumulative `cpu_time_ns` only."""
    created_at: float | None = None
    stale: bool = False
    age_s: float = 0.0

    @property
    def key(self) -> str:
        return f"{self.backend}/{self.id}"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A point-in-time snapshot of one VM."""

    name: str
    vm_id: str
    created_at: float
    state: str = ""
    description: str = ""
    current: bool = False


class MigrationPhase(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    POSTCOPY = "postcopy"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Migration:
    """Progress of one live migration, as the source host reports it."""

    id: str
    vm_id: str
    vm_name: str
    source: str
    target: str
    phase: MigrationPhase
    data_total: int = 0
    data_processed: int = 0
    data_remaining: int = 0
    throughput_bps: float = 0.0
    dirty_rate_bps: float = 0.0
    iteration: int = 0
    expected_downtime_ms: int = 0
    elapsed_s: float = 0.0
    started_at: float = 0.0
    error: str = ""


@dataclass(frozen=True, slots=True)
class MetricSample:
    """One value of one metric for one target (host or VM) at one time."""

    target: str
    metric: str
    timestamp: float
    value: float
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """How the last poll of one source went."""

    name: str
    ok: bool
    last_success: float | None = None
    last_attempt: float | None = None
    error: str = ""
    consecutive_failures: int = 0

    def age(self, now: float) -> float | None:
        return None if self.last_success is None else max(0.0, now - self.last_success)


@dataclass(frozen=True, slots=True)
class SourceData:
    """What one source returned on its last successful poll."""

    hosts: tuple[Host, ...] = ()
    vms: tuple[VM, ...] = ()


@dataclass(frozen=True, slots=True)
class FleetSnapshot:
    """The whole fleet at one moment: immutable, handed out to screens as is."""

    context: str
    taken_at: float
    hosts: tuple[Host, ...] = ()
    vms: tuple[VM, ...] = ()
    health: tuple[SourceHealth, ...] = ()
    generation: int = 0
    restored: bool = field(default=False)

    @property
    def stale_sources(self) -> tuple[SourceHealth, ...]:
        return tuple(h for h in self.health if not h.ok)


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert an alerting engine (Prometheus) reports, linked to a host or VM if it can be.

    `host` and `vm_id`/`vm_name` come from the alert's labels (the host label, `uuid`,
    `domain`), so the alerts panel can jump to the row the alert is about.
    """

    name: str
    state: str
    """`firing` or `pending`."""
    source: str
    """The backend (config source name) that reported it."""
    severity: str = ""
    summary: str = ""
    description: str = ""
    host: str = ""
    vm_id: str = ""
    vm_name: str = ""
    active_since: float | None = None
    """Unix time the alert became active, when known."""
    value: float | None = None
    labels: tuple[tuple[str, str], ...] = ()


class AuditStatus(StrEnum):
    """Where an audited action stands: `started` until the backend call returns."""

    STARTED = "started"
    OK = "ok"
    FAILED = "failed"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row of the audit log: who asked for what, on which target, and how it ended.

    The row is written before the backend call, so a `started` entry whose console died
    means "outcome unknown", not "never happened". Parameters stay as JSON text so the
    entry remains hashable and prints exactly as stored.
    """

    id: int
    idempotency_key: str
    who: str
    started_at: float
    started_iso: str
    context: str
    target_kind: str
    target_id: str
    target_name: str
    action: str
    params_json: str = "{}"
    status: AuditStatus = AuditStatus.STARTED
    finished_at: float | None = None
    duration_s: float | None = None
    error_code: str = ""
    error_message: str = ""
    error_cause: str = ""

    @property
    def params(self) -> dict[str, object]:
        import json  # local: keeps this shared module's imports untouched

        loaded = json.loads(self.params_json or "{}")
        return loaded if isinstance(loaded, dict) else {"value": loaded}

    @property
    def finished(self) -> bool:
        return self.status is not AuditStatus.STARTED


@dataclass(frozen=True, slots=True)
class MigrationRecord:
    """One live migration as the store remembers it, so a restarted console can re-check it.

    `job_id` is the backend's id for the job (`Migration.id`); `stats_json` holds the final
    progress figures; `finished_at` is None while the migration was never seen to end.
    """

    id: int
    context: str
    vm_id: str
    vm_name: str
    source: str
    target: str
    started_at: float
    phase: MigrationPhase = MigrationPhase.RUNNING
    who: str = ""
    job_id: str = ""
    audit_id: int | None = None
    finished_at: float | None = None
    stats_json: str = "{}"
    error: str = ""

    @property
    def stats(self) -> dict[str, object]:
        import json  # local: keeps this shared module's imports untouched

        loaded = json.loads(self.stats_json or "{}")
        return loaded if isinstance(loaded, dict) else {"value": loaded}
