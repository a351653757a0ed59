"""`vm.migrate` (and its controls) in the action registry, and the tracker's door through the
dispatcher.

The migration dialog and drain are the front ends of this action (they choose the target),
so the spec is registered here rather than in `console.actions.ACTIONS`, which generic key
bindings are built from; `actions.get("vm.migrate")` finds it all the same, so the dispatcher
applies its read-only check, per-VM lock and audit row to every migration.
"""

from __future__ import annotations

from backends.base import SupportsMigration
from console import actions, migrations
from console.actions import ActionSpec, Confirm, Param, Risk, TargetKind
from console.migration_state import MigrationState
from console.migrations import Call, Door

MIGRATE = ActionSpec(
    migrations.MIGRATE, "Live-migrate", "m", TargetKind.VM, SupportsMigration, "migrate_to",
    Risk.DISRUPTIVE, Confirm.NONE, "migrate",
    "Move the running VM to another host without stopping it.",
    params=(
        Param("target", str, None, "target host", required=True),
        Param("target_uri", str, None, "target host's libvirt URI", required=True),
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
    aliases=("move",),
)
CANCEL = ActionSpec(
    migrations.CANCEL, "Cancel migration", "c", TargetKind.VM, SupportsMigration,
    "cancel_migration", Risk.SAFE, Confirm.NONE, "migrate-cancel",
    "Abort the VM's running migration; the guest keeps running on its source.",
    exclusive=False,  # the migration it cancels holds the VM
)
POST_COPY = ActionSpec(
    migrations.POST_COPY, "Switch to post-copy", "p", TargetKind.VM, SupportsMigration,
    "start_post_copy", Risk.DISRUPTIVE, Confirm.NONE, "migrate-post-copy",
    "Run the guest on the target now and pull its remaining memory from the source; "
    "it cannot be cancelled after this.",
    exclusive=False,
)
for _spec in (MIGRATE, CANCEL, POST_COPY):
    actions.REGISTRY.setdefault(_spec.id, _spec)


def dispatcher_door(dispatcher: object, origin: str = "tui") -> Door:
    """A door that sends every migration call (start, cancel, post-copy) through `dispatcher`
    (a `console.dispatcher.Dispatcher`): read-only gate, audit row, per-VM lock."""
    from console.dispatcher import Request, Target

    async def door(state: MigrationState, _call: Call, params: dict[str, object],
                   action: str) -> None:
        request = Request(action=action,
                          target=Target(state.source_backend, state.vm_id, state.vm_name),
                          params={k: v for k, v in params.items() if v is not None},
                          confirmed=True, origin=origin)
        outcome = await dispatcher.run(request)  # type: ignore[attr-defined]
        if not outcome.ok:
            raise outcome.error

    return door
