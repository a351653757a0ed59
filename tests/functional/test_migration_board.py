"""The board with a fake migrating backend: cards move between columns, `c` cancels."""

from __future__ import annotations

from textual.app import App

from console.migration.tracker import MigrationTracker
from console.models import MigrationPhase
from screens.migrations import MigrationsScreen
from tests.unit.migration_fakes import setup
from themes import CSS_PATH as THEME_CSS
from themes import DEFAULT_STATUS, DEFAULT_THEME, THEMES
from widgets.migration_card import MigrationCard, card_text


class BoardApp(App[None]):
    CSS_PATH = THEME_CSS

    def __init__(self, tracker: MigrationTracker) -> None:
        super().__init__()
        self.migrations = tracker
        self.dispatcher = None  # a board without actions: the tracker calls the hosts directly
        self.store = None

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(DEFAULT_STATUS)

    def on_mount(self) -> None:
        for theme in THEMES:
            self.register_theme(theme)
        self.theme = DEFAULT_THEME
        self.push_screen(MigrationsScreen())


async def test_running_card_then_cancel_moves_it_to_failed() -> None:
    backends, snap, world = setup()
    for host in backends.values():  # slow: finishes only after many reads
        host.step = 1
    tracker = MigrationTracker(backends, poll_interval_s=0.05)
    app = BoardApp(tracker)
    async with app.run_test(size=(100, 30)) as pilot:
        state = await tracker.start(snap.vms[0], snap.hosts[1])
        await pilot.pause(0.2)
        board = app.screen
        assert isinstance(board, MigrationsScreen)
        board.refresh_board()
        cards = list(board.query("#col-running MigrationCard").results(MigrationCard))
        assert [c.migration_id for c in cards] == [state.id]
        assert board.selected == state.id
        await pilot.press("c")
        final = await tracker.wait(state.id)
        assert final.phase is MigrationPhase.CANCELLED
        await pilot.pause(0.7)
        failed = list(board.query("#col-failed MigrationCard").results(MigrationCard))
        assert [c.migration_id for c in failed] == [state.id]
        assert "cancelled" in card_text(final).plain
    assert world["u1"] == "h1"


async def test_drain_dialog_runs_the_drain_and_reports() -> None:
    from screens.drain_dialog import DrainDialog, open_drain_dialog

    backends, snap, world = setup()
    tracker = MigrationTracker(backends, poll_interval_s=0.01)
    app = BoardApp(tracker)
    async with app.run_test(size=(100, 30)) as pilot:
        app.snapshot = snap  # type: ignore[attr-defined]
        open_drain_dialog(app, "h1")
        await pilot.pause()
        assert isinstance(app.screen, DrainDialog)
        assert len(app.screen.plan.moves) == 2
        await pilot.click("#go")
        for _ in range(50):
            await pilot.pause(0.05)
            if set(world.values()) == {"h2"} and not tracker.busy():
                break
        assert set(world.values()) == {"h2"}
