"""The console's own app adopts a migration started elsewhere: fleet snapshot → board card.

The fake hosts (tests/unit/test_migration_tracker.py) list the incoming guest as MIGRATING on
the target while the source still lists it, as libvirt does; the migration is started on the
fake source directly, as `virsh migrate` on another terminal would be.
"""

from __future__ import annotations

from console.app import NovaApp
from console.fleet.polling import Fleet
from console.migration.adopt import ADOPTED_NOTE
from console.migration.state import MigrationState
from console.models import MigrationPhase
from screens.migrations import MigrationsScreen, tracker_for
from tests.unit.migration_fakes import setup
from widgets.migration_card import MigrationCard


def slow_fleet():  # type: ignore[no-untyped-def]
    """The fake hosts, slow enough that a migration is still running when cancelled."""
    backends, _snap, world = setup()
    for host in backends.values():
        host.step = 1
    return backends, world, Fleet("t", list(backends.values()), interval_s=0.1)  # type: ignore[arg-type]


async def adopted(app: NovaApp, pilot) -> MigrationState:  # type: ignore[no-untyped-def]
    """Wait until the app's tracker has adopted the one migration started elsewhere."""
    tracker = tracker_for(app)
    for _ in range(100):
        await pilot.pause(0.05)
        if tracker.states():
            break
    [state] = tracker.states()
    return state


async def test_a_migration_started_elsewhere_appears_on_the_board_and_can_be_cancelled() -> None:
    backends, world, fleet = slow_fleet()
    app = NovaApp(fleet)
    async with app.run_test(size=(120, 36)) as pilot:
        job = backends["h1"].outside("u1", backends["h2"])
        state = await adopted(app, pilot)
        tracker = tracker_for(app)
        assert state.adopted and state.note == ADOPTED_NOTE
        assert (state.source, state.target) == ("h1", "h2")
        assert any("outside this console" in n.message for n in app._notifications)
        await pilot.press("3")
        await pilot.pause(0.6)
        board = app.screen
        assert isinstance(board, MigrationsScreen)
        cards = list(board.query("#col-running MigrationCard").results(MigrationCard))
        assert [c.migration_id for c in cards] == [state.id]
        await pilot.press("c")
        final = await tracker.wait(state.id)
        assert final.phase is MigrationPhase.CANCELLED, final
        await pilot.pause(0.6)
        failed = list(board.query("#col-failed MigrationCard").results(MigrationCard))
        assert [c.migration_id for c in failed] == [state.id]
    assert job.done() and world["u1"] == "h1"


async def test_read_only_board_refuses_to_cancel_and_the_migration_goes_on() -> None:
    """Cancelling is a mutation like any other: the dispatcher refuses it in read-only."""
    backends, world, fleet = slow_fleet()
    app = NovaApp(fleet, read_only=True)
    async with app.run_test(size=(120, 36)) as pilot:
        job = backends["h1"].outside("u1", backends["h2"])
        state = await adopted(app, pilot)
        tracker = tracker_for(app)
        await pilot.press("3")
        await pilot.pause(0.6)
        await pilot.press("c")
        await pilot.pause(0.3)
        assert any("NOVA-4001" in str(n.message) for n in app._notifications)
        assert tracker.get(state.id).active and not job.done()  # type: ignore[union-attr]
        for host in backends.values():
            host.step = 64  # let it finish on its own
        final = await tracker.wait(state.id)
        assert final.phase is MigrationPhase.DONE, final
    assert world["u1"] == "h2"
