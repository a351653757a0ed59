"""The table's cursor: on the first row while rows arrive, then on its own row's key."""

from __future__ import annotations

from textual.app import App, ComposeResult

from themes import DEFAULT_STATUS
from widgets.resource_table import Column, ResourceTable, Row


def rows(*names: str) -> list[Row]:
    return [Row(key=n, cells=(n,)) for n in names]


class TableApp(App[None]):
    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(DEFAULT_STATUS)

    def compose(self) -> ComposeResult:
        yield ResourceTable([Column("name", "NAME")], id="t")


async def test_untouched_cursor_stays_on_top_while_sources_load() -> None:
    """Sources answer one by one; an operator who has not moved sees the first row selected."""
    app = TableApp()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(ResourceTable)
        table.set_rows(rows("m", "n"))
        table.set_rows(rows("a", "b", "m", "n"))
        table.set_rows(rows("a", "b", "c", "m", "n"))
        await pilot.pause()
        assert (table.cursor_row, table.cursor_key) == (0, "a")


async def test_moved_cursor_follows_its_key() -> None:
    app = TableApp()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(ResourceTable)
        table.set_rows(rows("a", "b", "c"))
        await pilot.press("down")
        assert table.cursor_key == "b"
        table.set_rows(rows("0", "1", "a", "b", "c"))
        assert (table.cursor_row, table.cursor_key) == (3, "b")
        table.set_rows(rows("c", "b"))
        assert table.cursor_key == "b"
        table.set_rows(rows("x", "y", "z"))  # its row is gone: stay near, within bounds
        assert table.cursor_key in ("x", "y", "z")


async def test_up_down_home_end_and_enter() -> None:
    selected: list[str] = []

    class Selecting(TableApp):
        def on_resource_table_row_selected(self, event: ResourceTable.RowSelected) -> None:
            selected.append(event.key)

    app = Selecting()
    async with app.run_test(size=(40, 8)) as pilot:
        table = app.query_one(ResourceTable)
        table.focus()
        table.set_rows(rows(*(f"vm{i:02}" for i in range(30))))
        await pilot.pause()
        await pilot.press("end")
        assert table.cursor_key == "vm29" and table.scroll_offset.y > 0
        await pilot.press("up", "up")
        assert table.cursor_key == "vm27"
        await pilot.press("home")
        assert table.cursor_key == "vm00" and table.scroll_offset.y == 0
        await pilot.press("j", "j", "enter")
        await pilot.pause()
        assert selected == ["vm02"]
