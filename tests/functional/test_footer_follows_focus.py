"""The footer and the table's cursor follow focus, with no more repainting than that needs.

What an operator sees: `/` moves the keys to the filter box (the footer drops `enter
Details`, which the box takes over), escape gives them back; the cursor's line is drawn in
the focus colour only while the table has focus. What keeps `/` and escape within a frame at
100k VMs (issue 17): the footer is not rebuilt when what it shows is unchanged (a screen
switch and back), and focus leaving the table redraws the cursor's line, not every line.
"""

from __future__ import annotations

import pytest
from textual.widgets import Input
from textual.widgets._footer import FooterKey

from console.app import NovaApp
from screens.hosts import HostsScreen
from screens.inventory import InventoryScreen
from tests import wait_for
from widgets.footer import Footer

pytestmark = pytest.mark.timeout(120)


def footer_keys(app: NovaApp) -> list[FooterKey]:
    return list(app.screen.query_one(Footer).query(FooterKey))


def descriptions(app: NovaApp) -> list[str]:
    return [key.description for key in footer_keys(app)]


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


async def test_footer_not_rebuilt_when_its_keys_are_the_same(demo_app) -> None:  # type: ignore[no-untyped-def]
    app, pilot = demo_app
    await pilot.pause()
    before = footer_keys(app)
    await pilot.press("2")
    await wait_for(pilot, lambda: isinstance(app.screen, HostsScreen))
    await pilot.press("1")
    await wait_for(pilot, lambda: isinstance(app.screen, InventoryScreen))
    await pilot.pause()
    after = footer_keys(app)
    assert [k.description for k in after] == [k.description for k in before]
    assert all(a is b for a, b in zip(after, before, strict=True)), "same keys, not rebuilt"


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
