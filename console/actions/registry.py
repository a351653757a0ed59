"""The action registry: every lifecycle action a VM can undergo, described once.

Key bindings, the command palette, `:` commands, the CLI subcommands and the dispatcher's
checks are all built from `REGISTRY`, so an action cannot exist in one place and be missing
(or differently guarded) in another. A spec is plain data: it names the backend method the
dispatcher calls, the capability protocol the backend must satisfy, how risky the action is
and which confirmation the operator must give. Nothing here imports the UI.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from backends.base import (
    NewVM,
    SupportsConsole,
    SupportsCreate,
    SupportsDeallocate,
    SupportsDiskGrowth,
    SupportsHostLink,
    SupportsMigration,
    SupportsPower,
    SupportsResize,
    SupportsRestartResize,
    SupportsSnapshots,
)
from console.errors import Code, NovaError


class Risk(StrEnum):
    """How much an action can hurt: drives confirmation and read-only hiding."""

    SAFE = "safe"
    """Nothing is lost (start, resume, take a snapshot, list snapshots)."""
    DISRUPTIVE = "disruptive"
    """Service is interrupted but no data is lost (graceful shutdown, reboot, suspend, revert)."""
    DESTRUCTIVE = "destructive"
    """Data or a restore point can be lost (force-off, delete VM, delete snapshot)."""


class Confirm(StrEnum):
    """What the operator must do before the action runs."""

    NONE = "none"
    YES_NO = "yes-no"
    """A yes/no dialog with Cancel focused; the CLI needs `--yes`."""
    TYPE_NAME = "type-name"
    """Type the VM's name; the CLI needs `--confirm NAME`."""


class TargetKind(StrEnum):
    VM = "vm"
    SNAPSHOT = "snapshot"
    """A snapshot of a VM: the VM is the locked and audited target, the snapshot a parameter."""
    MIGRATION = "migration"
    """A running migration of a VM (its controls, on the board): the VM is the audited target."""
    HOST = "host"
    """A host (the hosts screen): `Target.vm_id` and `name` are the host's name."""


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter of an action (CLI option, dialog field, audit `params`)."""

    name: str
    kind: type
    default: object = None
    help: str = ""
    required: bool = False
    arg: str = ""
    """The backend method's keyword for it, when it differs from `name`."""


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """One registered action."""

    id: str
    """Stable id, e.g. ``vm.force_off``: the binding id users remap keys by, the audit action."""
    title: str
    key: str
    """Default key on the screen that shows targets of `target` kind."""
    target: TargetKind
    capability: type
    """The protocol the backend must satisfy (`isinstance` at dispatch time)."""
    method: str
    """Name of the backend coroutine the dispatcher calls with (vm_id, **params)."""
    risk: Risk
    confirm: Confirm
    verb: str
    """CLI subcommand and `:` command name."""
    description: str
    mutating: bool = True
    """False only for queries (listing snapshots); every mutating action is gated."""
    params: tuple[Param, ...] = ()
    aliases: tuple[str, ...] = ()
    exclusive: bool = True
    """Takes the per-VM lock. False only for controls of an action already running on the VM
    (cancelling its migration): those must get through while that action holds the lock."""
    opens: str = ""
    """A screen (by name) the action opens instead of running at once: the snapshot list,
    the migrate dialog that chooses the target. The CLI runs it directly with its options."""
    on_timeout: str = ""
    """The action offered when this one times out (a shutdown the guest ignored → force-off)."""
    announce: bool = False
    """Say it started (long actions: the operator should not wonder whether the key worked)."""
    positional: str = ""
    """The parameter a `:` command takes before the VM names (`:snapshot NAME vm…`)."""
    result_note: Callable[[Any, Mapping[str, object]], str] | None = None
    """What a success adds to "done", from the call's value and the request's parameters."""
    default_params: Callable[[], dict[str, object]] | None = None
    """Parameters computed when the operator gave none (a snapshot's name)."""
    short: str = ""
    """The key's label in the footer when the title is too long for 80 columns."""
    cli: bool = True
    """`novacron vm <verb>` is generated for it (False: its own command group offers it, as
    `vm migrate --to HOST` does with its pre-flight)."""
    needs_target: bool = True
    """The action is about a VM that exists (False: New VM, whatever row is selected)."""
    call: Callable[[Any, str, dict[str, object]], Awaitable[Any]] | None = None
    """How the dispatcher calls the backend when it is not `method(vm_id, **params)`:
    (backend, vm_id, keyword arguments) → the coroutine. Creating a VM has no id yet."""

    @property
    def destructive(self) -> bool:
        return self.risk is Risk.DESTRUCTIVE


SHUTDOWN_TIMEOUT_S = 60.0
"""How long a graceful shutdown may take before the console offers to force the VM off."""

_SNAPSHOT_NAME = Param("snapshot", str, None, "snapshot name", required=True, arg="name")

MIGRATE, CANCEL_MIGRATION, POST_COPY = "vm.migrate", "vm.migrate_cancel", "vm.migrate_post_copy"
CREATE, RESIZE = "vm.create", "vm.resize"
GROW_DISK = "vm.grow_disk"
ACCEPT_HOST_KEY, HOST_SHELL, VM_CONSOLE = "host.accept_key", "host.shell", "vm.console"
_TERMINAL = (Param("term", str, "xterm-256color", "TERM on the remote side"),
             Param("cols", int, 80, "columns"), Param("rows", int, 24, "rows"))


def _create_vm(backend: Any, _vm_id: str, params: dict[str, object]) -> Awaitable[Any]:
    """`create_vm(NewVM)`: the request's parameters are the new VM's fields."""
    tags = params.get("tags") or ()
    fields = {**params, "tags": tuple(tags) if isinstance(tags, (list, tuple)) else (str(tags),)}
    return backend.create_vm(NewVM(**fields))  # type: ignore[arg-type]


# The host actions name `host_link` as their method (the capability's one method; the
# dispatcher looks it up) and say how to call it in `call`.
def _link(backend: Any, host: str) -> Any:
    """The host's SSH link, or NOVA-4002 naming why there is none."""
    link = backend.host_link(host)
    if link is None:
        raise NovaError(Code.NOT_SUPPORTED, f"{host}: not available for this source",
                        "the host is not reached over SSH (transport = \"ssh\")")
    return link


async def _accept_key(backend: Any, host: str, params: dict[str, object]) -> Any:
    return await _link(backend, host).accept_key(str(params["fingerprint"]))


async def _open_shell(backend: Any, host: str, params: dict[str, object]) -> Any:
    return await _link(backend, host).open_terminal(
        None, term=str(params["term"]), cols=int(params["cols"]),  # type: ignore[call-overload]
        rows=int(params["rows"]))  # type: ignore[call-overload]


def _written_to(value: Any, _params: Mapping[str, object]) -> str:
    return f"written to {value}; the host reconnects at the next poll" if value else ""


def _resize_vm(backend: Any, vm_id: str, params: dict[str, object]) -> Awaitable[Any]:
    """`resize`, or with `restart` stop → resize → start (`SupportsRestartResize`)."""
    args: dict[str, Any] = {k: v for k, v in params.items() if k != "restart"}
    if not params.get("restart"):
        return backend.resize(vm_id, **args)
    if not isinstance(backend, SupportsRestartResize):
        raise NovaError(Code.NOT_SUPPORTED, "resize with restart",
                        "this backend resizes without stopping the VM; leave out restart")
    return backend.resize_restarting(vm_id, **args)


def _made(value: Any, _params: Mapping[str, object]) -> str:
    return f"on {value.host}, {value.state.value}" if value is not None else ""


def _resized(value: Any, _params: Mapping[str, object]) -> str:
    return getattr(value, "note", "")


def _disks_left(value: Any, _params: Mapping[str, object]) -> str:
    return f"disks NOT removed: {', '.join(value)}" if value else ""


def _backend_says(value: Any, _params: Mapping[str, object]) -> str:
    """A note the backend returned with its success (Azure: a powered-off VM is still billed)."""
    return value if isinstance(value, str) else ""


def _snapshot_named(_value: Any, params: Mapping[str, object]) -> str:
    return f"snapshot {params.get('name')}"


def _snapshot_name_now() -> dict[str, object]:
    return {"name": time.strftime("nova-%Y%m%d-%H%M%S")}

ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec(
        MIGRATE, "Live-migrate", "m", TargetKind.VM, SupportsMigration, "migrate_to",
        Risk.DISRUPTIVE, Confirm.NONE, "migrate",
        "Move the running VM to another host without stopping it.",
        params=(
            Param("target", str, None, "target host", required=True),
            Param("target_uri", str, None, "target host's address (libvirt URI)", required=True),
            Param("live", bool, True, "live (the guest keeps running)"),
            Param("peer_to_peer", bool, True, "the source host drives the migration"),
            Param("persistent", bool, True, "define the guest on the target"),
            Param("undefine_source", bool, True, "remove the definition from the source"),
            Param("auto_converge", bool, False, "throttle the guest's CPUs until it converges"),
            Param("post_copy", bool, False, "allow switching to post-copy"),
            Param("bandwidth_mib_s", int, None, "bandwidth cap in MiB/s"),
            Param("max_downtime_ms", int, None, "largest acceptable pause in ms"),
            Param("copy_storage", str, "none", "none, all or inc"),
            Param("migrate_uri", str, None, "data connection URI on the target"),
            Param("timeout_s", float, 6 * 3600.0, "give up (and abort) after this long"),
        ),
        aliases=("move",), opens="migrate",  # the dialog chooses the target and checks it
        cli=False, short="Migrate",
    ),
    ActionSpec(
        CANCEL_MIGRATION, "Cancel migration", "c", TargetKind.MIGRATION, SupportsMigration,
        "cancel_migration", Risk.SAFE, Confirm.NONE, "migrate-cancel",
        "Abort the VM's running migration; the guest keeps running on its source.",
        exclusive=False, cli=False,  # the migration it cancels holds the VM
    ),
    ActionSpec(
        POST_COPY, "Switch to post-copy", "p", TargetKind.MIGRATION, SupportsMigration,
        "start_post_copy", Risk.DISRUPTIVE, Confirm.NONE, "migrate-post-copy",
        "Run the guest on the target now and pull its remaining memory from the source; "
        "it cannot be cancelled after this.",
        exclusive=False, cli=False,
    ),
    ActionSpec("vm.start", "Start", "u", TargetKind.VM, SupportsPower, "start",
               Risk.SAFE, Confirm.NONE, "start", "Power the VM on.", aliases=("up",)),
    ActionSpec("vm.shutdown", "Shut down", "d", TargetKind.VM, SupportsPower, "shutdown",
               Risk.DISRUPTIVE, Confirm.YES_NO, "shutdown",
               "Ask the guest to shut down (ACPI) and wait; offers force-off on timeout.",
               params=(Param("timeout_s", float, SHUTDOWN_TIMEOUT_S,
                             "seconds to wait for the guest to power off"),),
               aliases=("stop",), on_timeout="vm.force_off", announce=True,
               result_note=_backend_says),
    ActionSpec("vm.reboot", "Reboot", "r", TargetKind.VM, SupportsPower, "reboot",
               Risk.DISRUPTIVE, Confirm.YES_NO, "reboot", "Ask the guest to reboot."),
    ActionSpec("vm.force_off", "Force off", "F", TargetKind.VM, SupportsPower, "force_off",
               Risk.DESTRUCTIVE, Confirm.TYPE_NAME, "force-off",
               "Pull the power: unsaved guest data is lost.", aliases=("destroy", "kill"),
               result_note=_backend_says),
    ActionSpec("vm.deallocate", "Deallocate", "X", TargetKind.VM, SupportsDeallocate, "deallocate",
               Risk.DISRUPTIVE, Confirm.YES_NO, "deallocate",
               "Stop the VM and release its hardware (clouds): compute billing stops, disks are "
               "still billed; it may start on other hardware with another dynamic IP.",
               result_note=_backend_says),
    ActionSpec("vm.suspend", "Suspend", "z", TargetKind.VM, SupportsPower, "suspend",
               Risk.DISRUPTIVE, Confirm.YES_NO, "suspend", "Pause the VM's CPUs (stays in memory).",
               aliases=("pause",)),
    ActionSpec("vm.resume", "Resume", "Z", TargetKind.VM, SupportsPower, "resume",
               Risk.SAFE, Confirm.NONE, "resume", "Resume a suspended VM."),
    ActionSpec("vm.snapshot_create", "Take snapshot", "n", TargetKind.VM, SupportsSnapshots,
               "create_snapshot", Risk.SAFE, Confirm.NONE, "snapshot",
               "Take a snapshot of the VM.",
               params=(Param("name", str, None, "snapshot name (default: nova-<time>)"),
                       Param("description", str, "", "free text kept with the snapshot")),
               positional="name", result_note=_snapshot_named,
               default_params=_snapshot_name_now),
    ActionSpec("vm.snapshots", "Snapshots", "N", TargetKind.VM, SupportsSnapshots, "snapshots",
               Risk.SAFE, Confirm.NONE, "snapshots", "List the VM's snapshots (revert, delete).",
               mutating=False, opens="snapshots"),
    ActionSpec("vm.snapshot_revert", "Revert to snapshot", "r", TargetKind.SNAPSHOT,
               SupportsSnapshots, "revert_snapshot", Risk.DISRUPTIVE, Confirm.YES_NO, "revert",
               "Return the VM to the snapshot; changes since it are lost.",
               params=(_SNAPSHOT_NAME,), positional="snapshot"),
    ActionSpec("vm.snapshot_delete", "Delete snapshot", "d", TargetKind.SNAPSHOT,
               SupportsSnapshots, "delete_snapshot", Risk.DESTRUCTIVE, Confirm.TYPE_NAME,
               "snapshot-delete", "Delete the snapshot (the VM is untouched).",
               params=(_SNAPSHOT_NAME,), positional="snapshot"),
    ActionSpec("vm.delete", "Delete VM", "ctrl+d", TargetKind.VM, SupportsPower, "delete",
               Risk.DESTRUCTIVE, Confirm.TYPE_NAME, "delete",
               "Undefine the VM (and its snapshots); optionally remove its storage.",
               params=(Param("remove_storage", bool, False, "also delete the VM's disk files"),),
               aliases=("undefine",), result_note=_disks_left),
    ActionSpec(
        CREATE, "New VM", "plus", TargetKind.VM, SupportsCreate, "create_vm", Risk.SAFE,
        Confirm.NONE, "create",
        "Make a VM from a template on the host the scheduler chose (or the one given).",
        params=(
            Param("name", str, None, "the new VM's name", required=True),
            Param("vcpus", int, None, "vCPUs", required=True),
            Param("memory_bytes", int, None, "memory in bytes", required=True),
            Param("disk_bytes", int, 0, "disk size in bytes (0: the image's)"),
            Param("host", str, "", "host chosen by the scheduler"),
            Param("template", dict, None, "the template's kind fields"),
            Param("tags", list, None, "tags"),
            Param("request_id", str, "", "idempotency: the same id twice makes one VM"),
        ),
        call=_create_vm, result_note=_made, announce=True, cli=False, opens="new_vm",
        needs_target=False,
    ),
    ActionSpec(
        RESIZE, "Resize", "R", TargetKind.VM, SupportsResize, "resize", Risk.DISRUPTIVE,
        Confirm.NONE, "resize",
        "Change vCPUs and memory: live up to the VM's maximum, otherwise at its next boot.",
        params=(Param("vcpus", int, None, "vCPUs"),
                Param("memory_bytes", int, None, "memory in bytes"),
                Param("restart", bool, False, "stop, resize and start again (EC2)")),
        call=_resize_vm, result_note=_resized, cli=False, opens="resize",
    ),
    ActionSpec(
        GROW_DISK, "Grow disk", "E", TargetKind.VM, SupportsDiskGrowth, "grow_disk",
        Risk.DISRUPTIVE, Confirm.NONE, "grow-disk",
        "Enlarge a virtual disk (it cannot shrink back); the guest then grows its partition "
        "and file system.",
        params=(Param("disk", str, "vda", "the disk's target name (vda, sda)"),
                Param("size_bytes", int, None, "new size in bytes", required=True)),
        result_note=_resized, cli=False, opens="resize",  # `vm grow-disk --size 20GiB`
    ),
    ActionSpec(
        ACCEPT_HOST_KEY, "Accept host key", "K", TargetKind.HOST, SupportsHostLink, "host_link",
        Risk.DISRUPTIVE, Confirm.TYPE_NAME, "accept-key",  # nothing is lost; trust is granted
        "Trust the unknown SSH host key the host offered (after checking its fingerprint with "
        "the host's owner): it is added to your known_hosts. A changed key is never accepted.",
        params=(Param("fingerprint", str, None, "SHA256 of the offered key", required=True),),
        call=_accept_key, result_note=_written_to, cli=False, short="Accept key",
    ),
    ActionSpec(
        HOST_SHELL, "Shell on host", "t", TargetKind.HOST, SupportsHostLink, "host_link",
        Risk.DISRUPTIVE, Confirm.NONE, "shell",
        "An interactive shell on the host over the console's SSH connection; the console "
        "comes back when it exits.", params=_TERMINAL, call=_open_shell, cli=False,
        short="Shell",
    ),
    ActionSpec(
        VM_CONSOLE, "Serial console", "C", TargetKind.VM, SupportsConsole, "open_console",
        Risk.DISRUPTIVE, Confirm.NONE, "console",
        "The VM's serial console (virsh console on its host, over the console's SSH "
        "connection); ctrl-] comes back.", params=_TERMINAL, opens="console", cli=False,
        short="Console",
    ),
)

REGISTRY: dict[str, ActionSpec] = {spec.id: spec for spec in ACTIONS}


def get(action_id: str) -> ActionSpec:
    """The spec for `action_id`; KeyError names the known ids."""
    try:
        return REGISTRY[action_id]
    except KeyError:
        raise KeyError(f"unknown action {action_id!r}; known: {', '.join(REGISTRY)}") from None


def by_verb(verb: str) -> ActionSpec | None:
    """Look an action up by its CLI / `:` verb or one of its aliases."""
    verb = verb.strip().lower()
    for spec in ACTIONS:
        if verb == spec.verb or verb in spec.aliases:
            return spec
    return None


def for_target(kind: TargetKind) -> Iterator[ActionSpec]:
    return (spec for spec in ACTIONS if spec.target is kind)


def mutating() -> Iterator[ActionSpec]:
    return (spec for spec in ACTIONS if spec.mutating)


def default_params(spec: ActionSpec) -> dict[str, object]:
    """Defaults for the spec's optional parameters (required ones are left out)."""
    return {p.name: p.default for p in spec.params if not p.required and p.default is not None}


def call_kwargs(spec: ActionSpec, params: Mapping[str, object]) -> dict[str, object]:
    """A request's parameters as the backend method's keyword arguments."""
    args = {p.name: p.arg or p.name for p in spec.params}
    return {args.get(k, k): v for k, v in params.items()}


def prepare_params(spec: ActionSpec, given: Mapping[str, object] | None = None) -> dict[str, object]:
    """The parameters a request carries: defaults, then `given`; a snapshot gets a name.

    Raises ValueError naming a missing required parameter or one the action does not take.
    """
    known = {p.name for p in spec.params}
    supplied = {k: v for k, v in (given or {}).items() if v is not None}
    if unknown := supplied.keys() - known:
        raise ValueError(f"{spec.verb} takes no {', '.join(sorted(unknown))}")
    params = default_params(spec) | supplied
    computed = spec.default_params() if spec.default_params is not None else {}
    params |= {k: v for k, v in computed.items() if not params.get(k)}
    if missing := [p.name for p in spec.params if p.required and not params.get(p.name)]:
        raise ValueError(f"{spec.verb} needs {', '.join(missing)}")
    return params
