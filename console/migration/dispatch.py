"""The tracker's door through the dispatcher: every migration call (start, cancel,
post-copy) becomes a `Request` for its registered action (`vm.migrate`, …), so the read-only
gate, the per-VM lock and the audit row apply to migrations exactly as to any action."""

from __future__ import annotations

from console.actions.dispatcher import Dispatcher, Request, Target
from console.migration.state import MigrationState
from console.migration.tracker import Call, Door


def dispatcher_door(dispatcher: Dispatcher, origin: str = "tui") -> Door:
    """A door that sends every migration call (start, cancel, post-copy) through `dispatcher`
    (a `console.actions.dispatcher.Dispatcher`): read-only gate, audit row, per-VM lock."""
    async def door(state: MigrationState, _call: Call, params: dict[str, object],
                   action: str) -> None:
        request = Request(action=action,
                          target=Target(state.source_backend, state.vm_id, state.vm_name),
                          params={k: v for k, v in params.items() if v is not None},
                          confirmed=True, origin=origin)
        outcome = await dispatcher.run(request)
        if not outcome.ok and outcome.error is not None:
            raise outcome.error

    return door
