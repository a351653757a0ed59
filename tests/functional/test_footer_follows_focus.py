"""The footer and the table's cursor follow focus, with no more repainting than that needs.

What an operator sees: `/` moves the keys to the filter box (the footer drops `enter
Details`, which the box takes over), escape gives them back; another screen shows its own
keys; clicking a key presses it; the cursor's line is drawn in the focus colour only while
the table has focus. What keeps `/` and escape within a frame at 100k VMs (issue 17): focus
leaving the table redraws the cursor's line, not every line.
"""

from __future__ import annotations

import pytest
from textual.widgets import Input

from console.app import NovaApp
from screens.hosts import HostsScreen
from screens.inventory import InventoryScreen
from tests import wait_for
from widgets.footer import Footer

pytestmark = pytest.mark.timeout(120)


def footer(app: NovaApp) -> Footer:
    return app.screen.query_one(Footer)


def descriptions(app: NovaApp) -> list[str]:
    """The footer's line as drawn, cut at each key: what the operator reads."""
    line = footer(app).render().plain
    return [key.description for key in footer(app).keys if key.description in line]


async def test_footer_keys_follow_focus(demo_app) -> None:  # type: ignore[no-untyped-def]
    app, pilot = demo_app
    screen = app.screen
    assert "Details" in descriptions(app) and "Filter" in descriptions(app)
    await pilot.press("slash")
    await pilot.pause()
    assert app.focused is screen.query_one("#filter", Input)
    assert "Details" not in descriptions(app), "enter goes to the filter box now"
    await pilot.press("escape")
    await pilot.pause()
    assert app.focused is screen.table
    assert "Details" in descriptions(app)


async def test_footer_keys_come_back_after_another_screen(demo_app) -> None:  # type: ignore[no-untyped-def]
    app, pilot = demo_app
    await pilot.pause()
    before = descriptions(app)
    await pilot.press("2")
    await wait_for(pilot, lambda: isinstance(app.screen, HostsScreen))
    assert descriptions(app) != before, "the hosts screen has keys of its own"
    await pilot.press("1")
    await wait_for(pilot, lambda: isinstance(app.screen, InventoryScreen))
    await pilot.pause()
    assert descriptions(app) == before


async def test_clicking_a_key_presses_it(demo_app) -> None:  # type: ignore[no-untyped-def]
    app, pilot = demo_app
    await pilot.pause()
    line = footer(app).render().plain
    await pilot.click(Footer, offset=(line.index("Filter"), 0))
    await pilot.pause()
    assert app.focused is app.screen.query_one("#filter", Input)


async def test_focus_redraws_the_cursor_line_only(demo_app) -> None:  # type: ignore[no-untyped-def]
    app, pilot = demo_app
    table = app.screen.table
    await pilot.pause()
    focused_cursor = table.render_line(1)  # line 0 is the header; the cursor is on row 0
    other = table.render_line(2)
    await pilot.press("slash")
    await pilot.pause()
    assert not table.has_focus
    blurred_cursor = table.render_line(1)
    assert blurred_cursor.text == focused_cursor.text
    assert blurred_cursor != focused_cursor, "the cursor's colour says the table lost focus"
    assert table.render_line(2) is other, "an unchanged line is not drawn again"
    await pilot.press("escape")
    await pilot.pause()
    assert table.render_line(1) == focused_cursor
