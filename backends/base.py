"""The adapter contract: what a backend kind registers, one core protocol, and capabilities.

A backend kind is a package registered under the `novacron.backends` entry point; the entry
point names a `BackendKind`: its config model (one entry of a context's `backends` list), its
factory and a one-line description. The core never lists kinds: the config's `Source` union and
the sources a context opens are built from what is installed.

The fleet polls anything that is a `Backend`. The dispatcher and the migration tracker ask
`isinstance(backend, SupportsPower)` (and so on) at run time, and call exactly the methods the
protocol declares, so a backend implements only what it can really do: there are no
`NotImplementedError` stubs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from console.models import VM, Alert, Host, MetricSample, Migration, Snapshot, VMState

T = TypeVar("T")


class SourceConfig(BaseModel):
    """One entry of a context's `backends` list. A kind subclasses it with its own fields and
    `kind: Literal["<kind>"] = "<kind>"`; unknown keys are errors (with a "did you mean")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    name: str = Field(min_length=1, description="Name shown for this source; unique in a context.")
    timeout_s: float = Field(10.0, gt=0, description="Per-call timeout in seconds.")

    @property
    def lists_inventory(self) -> bool:
        """The fleet polls this source for hosts and VMs (False: metrics only)."""
        return True

    @property
    def serves_metrics(self) -> bool:
        """The metrics screen and sparklines may ask this source for series and alerts."""
        return False


action_key: ContextVar[str] = ContextVar("novacron_action_key", default="")
"""The idempotency key of the audited action now running (set by the dispatcher around the
backend call; the same key on a retry). A backend passes it where its API takes a client token
(EC2 `ClientToken`, a tag on what it creates) so a retried call never does a thing twice."""


class Opener(Protocol):
    def __call__(self, config: Any, *, read_only: bool) -> Backend: ...


@dataclass(frozen=True, slots=True)
class BackendKind:
    """What a backend package registers under the `novacron.backends` entry point.

    The module that defines it must stay light (pydantic models, no SDK import): the console
    loads every installed kind to validate a config, but a kind's SDK is imported only by
    `open`, when a context really uses it.
    """

    name: str
    """The `kind = "…"` value in the config."""
    config: type[SourceConfig]
    open: Opener
    """Build the backend for one config entry (no I/O: connections open on first use)."""
    description: str = ""
    example: Mapping[str, Any] = field(default_factory=dict)
    """A minimal config entry, shown by `novacron config kinds`."""
    template: type[BaseModel] | None = None
    """The kind's own fields of a context's `templates` entry (what a new VM is made from:
    a base image, an AMI, a template VM); None: the kind does not create VMs."""


@dataclass(frozen=True, slots=True)
class HostFacts:
    """What a host's own kernel says about it (an SSH-reached host: SFTP reads of /proc),
    beside what the hypervisor API reports."""

    load_1m: float
    load_5m: float
    load_15m: float
    memory_total_bytes: int
    memory_available_bytes: int
    uptime_s: float


@dataclass(frozen=True, slots=True)
class RefusedKey:
    """A host key refused on the way to a host (on the host itself or a jump host)."""

    host: str
    """The host the operator asked for."""
    hop: str
    """The server whose key was refused (the host, or a bastion on the way)."""
    address: str
    fingerprint: str
    """SHA256 of the key offered."""
    verdict: str
    """"Host key unknown", "Host key changed" or "Host key revoked"."""
    on_file: tuple[str, ...] = ()
    """SHA256 of the keys known_hosts has for it (a changed key)."""
    key_type: str = ""
    """The offered key's algorithm (`ssh-ed25519`, `ecdsa-sha2-nistp256` …)."""
    known_hosts: str = ""
    """The known_hosts file an accepted key is written to (the config's first
    UserKnownHostsFile)."""


@runtime_checkable
class RemoteTerminal(Protocol):
    """An interactive process on a host with a terminal of its own (a PTY): a login shell,
    `virsh console`. Bytes both ways; every method may be called from any event loop."""

    async def read(self) -> bytes:
        """The next output (the PTY merges stdout and stderr); b"" once the process ended."""
        ...

    async def write(self, data: bytes) -> None:
        """Send keystrokes (raw bytes, as the local terminal produced them)."""
        ...

    def resize(self, cols: int, rows: int) -> None:
        """The local window changed size: tell the remote PTY (its SIGWINCH)."""
        ...

    async def close(self) -> int | None:
        """End the process if it still runs and release its channel; its exit status."""
        ...


@runtime_checkable
class HostLink(Protocol):
    """A live link to one host that carries other connections (SSH, through bastions): the
    libvirt kind tunnels the host's libvirt socket over it and reads host facts through it.

    One link per host serves polling, actions, migration and facts. Opened by a
    `TransportKind`, without I/O: it connects on first use and reconnects by itself.
    """

    name: str
    """The host as the operator names it (an alias from ssh config)."""

    def local_socket(self, remote_path: str, timeout_s: float) -> str:
        """A local unix socket reaching `remote_path` on the host. Blocks: call it from a
        worker thread (a thread-bound SDK such as libvirt), never on an event loop."""
        ...

    async def facts(self, timeout_s: float) -> HostFacts | None:
        """Load, memory and uptime; None when the host does not serve them."""
        ...

    def refused_key(self) -> RefusedKey | None:
        """The host key refused on the way to this host, if the last attempt was refused."""
        ...

    async def accept_key(self, fingerprint: str) -> str:
        """Trust that refused key, if it is unknown (never a changed or revoked one) and
        `fingerprint` is its SHA256; returns the known_hosts file written."""
        ...

    async def open_terminal(self, command: str | None, *, term: str, cols: int,
                            rows: int) -> RemoteTerminal:
        """Run `command` (None: the login shell) on the host under a PTY of `cols` x `rows`
        with TERM=`term`, over the link's own connection (no new login, no ssh binary)."""
        ...

    def close(self) -> None:
        """Release the link (returns at once; the connection closes in the background)."""
        ...


class LinkOpener(Protocol):
    def __call__(self, host: str, *, config_path: str | None, timeout_s: float) -> HostLink: ...


@dataclass(frozen=True, slots=True)
class TransportKind:
    """What a transport package registers under the `novacron.transports` entry point: how
    a backend kind reaches a host it cannot reach directly (`ssh`: asyncssh, ssh config).

    Backend kinds ask `backends.registry.transport(name)` for it, so no backend package
    imports another, and the module that defines it stays light (no SDK import).
    """

    name: str
    open: LinkOpener
    """Open a link to `host` (no I/O: it connects on first use)."""
    description: str = ""


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
    """Lifecycle actions on one VM, addressed by its backend id (what `vm.*` actions call)."""

    async def start(self, vm_id: str) -> None: ...
    async def shutdown(self, vm_id: str, timeout_s: float = 60.0) -> None:
        """Ask the guest to power off and wait up to `timeout_s`; NOVA-2002 when it did not."""
        ...
    async def reboot(self, vm_id: str) -> None: ...
    async def force_off(self, vm_id: str) -> None: ...
    async def suspend(self, vm_id: str) -> None: ...
    async def resume(self, vm_id: str) -> None: ...
    async def delete(self, vm_id: str, remove_storage: bool = False) -> Sequence[str]:
        """Remove the VM; returns what could not be removed (disk paths), empty when all went."""
        ...


@runtime_checkable
class SupportsDeallocate(Protocol):
    """Cloud VMs that can be stopped *and* have their hardware released (Azure)."""

    async def deallocate(self, vm_id: str) -> str:
        """Stop and release; returns what the operator should know (billing, addresses)."""
        ...


@runtime_checkable
class SupportsCaveats(Protocol):
    """A backend with something to say before an action runs (a powered-off Azure VM is still
    billed); the confirmation dialog shows it."""

    def caveat(self, action: str) -> str:
        """The warning for `action` (e.g. `vm.shutdown`) on this backend, or ""."""
        ...


@dataclass(frozen=True, slots=True)
class Operation:
    """One long-running operation a backend follows for an action (an Azure LRO), as last
    seen: the board shows it beside migrations, the audit row keeps its resume token."""

    action: str
    """The backend's name for what it does (`power_off`, `deallocate`, `start`…)."""
    vm_id: str
    token: str
    """What another process needs to follow it to its end (Azure's continuation token)."""
    status: str = "InProgress"
    """The backend's status text: `InProgress`, `Succeeded`, `Failed`, `Canceled`…"""
    started_at: float = 0.0
    updated_at: float = 0.0
    error: str = ""
    note: str = ""
    """What the operator should know about the outcome (a powered-off VM is still billed)."""

    @property
    def done(self) -> bool:
        return self.status.lower() not in ("inprogress", "")


@runtime_checkable
class SupportsOperations(Protocol):
    """A backend whose actions are long-running operations it can follow again, from another
    process, with the token the audit row kept (`report_resume_token`)."""

    def watch_operations(self, on_change: Callable[[Operation], None]) -> None:
        """Call `on_change` (on the event loop) when an operation starts, changes, ends."""
        ...

    async def resume_operation(self, action: str, vm_id: str, token: str) -> Operation:
        """Follow the operation to its true end; raise (NovaError) when it failed."""
        ...


ResumeSink = Callable[[str, str], Awaitable[None]]
"""(backend action, token): where an action reports the token of its operation."""

resume_tokens: ContextVar[ResumeSink | None] = ContextVar("novacron_resume_tokens", default=None)
"""Set by the dispatcher around a backend call: the token lands in the action's audit row
before the operation is followed, so a console restarted mid-way can resume watching it."""


async def report_resume_token(action: str, token: str) -> None:
    """Record the running action's resume token (nothing when nobody listens)."""
    sink = resume_tokens.get()
    if sink is not None and token:
        await sink(action, token)


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
    """Live migration between two hosts of the same kind, as the tracker drives it."""

    async def migrate_to(self, vm_id: str, *, target: str, target_uri: str,
                         **options: Any) -> None:
        """Migrate and return when it has ended (or raise). `target` is the target host's
        name, `target_uri` its `Host.uri` (how this kind addresses it); `options` are the
        fields of `MigrationOptions` as plain values (what the audit row records)."""
        ...
    async def migration_progress(self, vm_id: str) -> Migration | None:
        """The running outgoing migration of `vm_id`, or None when there is none."""
        ...
    async def cancel_migration(self, vm_id: str) -> None: ...
    async def start_post_copy(self, vm_id: str) -> None: ...
    async def presence(self, vm_id: str) -> DomainPresence:
        """Where the VM is on this host (re-reading a migration after a restart)."""
        ...


@dataclass(frozen=True, slots=True)
class NewVM:
    """What `SupportsCreate.create_vm` is asked to make: sizes already validated, the host
    already chosen by the scheduler (`console.provision.placement`)."""

    name: str
    vcpus: int
    memory_bytes: int
    disk_bytes: int = 0
    host: str = ""
    """The host (or zone, region) chosen for it; empty: the backend's own default."""
    template: Mapping[str, Any] = field(default_factory=dict)
    """The context's template entry for this kind (image, network, instance type…)."""
    tags: tuple[str, ...] = ()
    request_id: str = ""
    """Idempotency: a second call with the same id returns the VM already made."""


@dataclass(frozen=True, slots=True)
class Resized:
    """What a resize did: applied to the running VM now, or only at its next boot."""

    live: bool
    note: str = ""


StepReport = Callable[[str, str, str], Awaitable[None]]
"""(step, status, detail): status is `started`, `ok`, `failed`, `undoing` or `undone`."""

saga_steps: ContextVar[StepReport | None] = ContextVar("novacron_saga_steps", default=None)
"""Where a multi-step backend call (`create_vm`) reports each step and each compensation;
set by the console around the call (the audit records them, the TUI shows progress)."""


async def report_step(step: str, status: str, detail: str = "") -> None:
    """Tell the console about one step of the running call (nothing when nobody listens)."""
    report = saga_steps.get()
    if report is not None:
        await report(step, status, detail)


class Saga:
    """Steps done so far and how to undo them: a failure at any step undoes the earlier ones,
    newest first, each reported, so nothing is left half-made.

        async with Saga() as saga:
            vol = await saga.step("volume", "pool/x.qcow2", make_volume, undo=delete_volume)
    """

    def __init__(self) -> None:
        self._undo: list[tuple[str, str, Callable[[], Awaitable[Any]]]] = []

    async def step(self, name: str, detail: str, do: Callable[[], Awaitable[T]],
                   undo: Callable[[T], Awaitable[Any]] | None = None) -> T:
        await report_step(name, "started", detail)
        try:
            value = await do()
        except BaseException as exc:
            await report_step(name, "failed", f"{detail}: {exc}")
            raise
        await report_step(name, "ok", detail)
        if undo is not None:
            self._undo.append((name, detail, lambda: undo(value)))
        return value

    async def __aenter__(self) -> Saga:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: Any) -> None:
        if exc is None:
            return
        for name, detail, undo in reversed(self._undo):
            await report_step(name, "undoing", detail)
            try:
                await undo()
            except Exception as err:  # keep undoing the rest; say what stays behind
                await report_step(name, "failed", f"undo of {detail}: {err}")
                continue
            await report_step(name, "undone", detail)


@runtime_checkable
class SupportsCreate(Protocol):
    async def create_vm(self, spec: NewVM) -> VM:
        """Make the VM and return it as listed; idempotent on `spec.request_id`."""
        ...


@runtime_checkable
class SupportsResize(Protocol):
    async def resize(self, vm_id: str, *, vcpus: int | None = None,
                     memory_bytes: int | None = None) -> Resized: ...


@runtime_checkable
class SupportsDiskGrowth(Protocol):
    async def grow_disk(self, vm_id: str, *, disk: str = "vda", size_bytes: int) -> Resized:
        """Enlarge one virtual disk (never shrink); the note names the guest-side step
        (growpart, resize2fs) the operator still has to run."""
        ...


@runtime_checkable
class SupportsQuotas(Protocol):
    """A cloud source whose capacity is an account quota per region, not a host's hardware
    (EC2's on-demand vCPU quota); the hosts screen shows these lines beside the zones."""

    async def quotas(self) -> Sequence[str]:
        """One line per region of the last inventory: what runs against the quota, or "?"
        and why the quota is not known. Never a made-up number."""
        ...


@runtime_checkable
class SupportsRestartResize(Protocol):
    """A VM whose size changes only while it is stopped (EC2): stop → resize → start as one
    call, each step reported (`report_step`), started again when the resize fails."""

    async def resize_restarting(self, vm_id: str, *, vcpus: int | None = None,
                                memory_bytes: int | None = None) -> Resized: ...


@runtime_checkable
class SupportsMetrics(Protocol):
    """Current figures, chart series and alerts (Prometheus, CloudWatch, Azure Monitor,
    vSphere's PerformanceManager). Targets are `vm:<backend>/<id>` or `host:<name>`."""

    metrics_label: str
    """Where the figures come from, said on screen (e.g. "CloudWatch, 5-minute basic
    monitoring")."""

    async def samples(self) -> Sequence[MetricSample]:
        """The latest CPU and memory use of every host and VM it knows, as flat samples."""
        ...
    async def series(self, target: str, metric: str,
                     window_s: float) -> Sequence[tuple[float, float]]:
        """(unix time, value) points for `metric` (`cpu` in cores, `memory` in bytes, `disk`
        and `net` in bytes/s) of one target over the last `window_s`; empty when unknown."""
        ...
    async def alerts(self) -> Sequence[Alert]:
        """Firing alerts, most severe first (empty where the source has none)."""
        ...


@runtime_checkable
class SupportsHostLink(Protocol):
    """A backend that may reach its host over a `HostLink` (libvirt with `transport = "ssh"`):
    the console asks it for the link to show and accept a refused host key, or to open a
    shell on the host."""

    def host_link(self, host: str) -> HostLink | None:
        """The link `host` is reached over; None when this source does not reach it so."""
        ...


@runtime_checkable
class SupportsConsole(Protocol):
    async def open_console(self, vm_id: str, *, term: str, cols: int,
                           rows: int) -> RemoteTerminal:
        """The VM's serial console as a remote terminal (libvirt over SSH: `virsh console`
        on the host, over the connection the backend already holds). NOVA-4002 (not
        supported) when this source cannot reach one."""
        ...
