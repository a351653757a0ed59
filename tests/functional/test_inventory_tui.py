"""The inventory as a new user meets it, on the demo fleet (libvirt test driver), through keys.

Assertions are on widget state (table rows and keys, the screen stack), and the oracle for
"every demo VM" is the demo XML files, read here independently of the backend.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import pytest
from textual import events
from textual.command import CommandPalette
from textual.widgets import Input, Label, OptionList, Static

from console import demo
from console.app import NovaApp
from console.models import VMState
from screens.inventory import FILTER_DEBOUNCE_S, InventoryScreen
from screens.vm_detail import VMDetailScreen
from tests import wait_for

pytestmark = pytest.mark.timeout(120)

TAGS = "{https://novacron.dev/xmlns/tags/1}tags"


def demo_vms() -> dict[str, dict[str, object]]:
    """name → {host, tags} for every demo VM, straight from the shipped XML."""
    out: dict[str, dict[str, object]] = {}
    for path in demo.host_files():
        for dom in ET.parse(path).getroot().findall("domain"):
            tags = dom.find(f"./metadata/{TAGS}")
            out[dom.findtext("name") or ""] = {
                "host": path.stem, "tags": [t.text for t in tags] if tags is not None else []}
    return out



def names(screen: InventoryScreen) -> list[str]:
    table = screen.table
    return [table.row(k).cells[0] for k in table.row_keys()]  # type: ignore[union-attr]


def inventory(app: NovaApp) -> InventoryScreen:
    screen = app.screen
    assert isinstance(screen, InventoryScreen), type(screen)
    return screen


async def test_inventory_lists_every_demo_vm(demo_app) -> None:  # type: ignore[no-untyped-def]
    app, _pilot = demo_app
    screen = inventory(app)
    expected = demo_vms()
    assert len(expected) == 60
    assert sorted(names(screen)) == sorted(expected)
    assert set(screen.table.row_keys()) == {vm.key for vm in app.snapshot.vms}
    for key in screen.table.row_keys():
        row = screen.table.row(key)
        assert row is not None
        assert row.cells[2] == expected[row.cells[0]]["host"]
        assert row.cells[5] == ",".join(expected[row.cells[0]]["tags"])  # type: ignore[arg-type]
    assert names(screen) == sorted(names(screen), key=str.lower), "sorted by name at start"
    assert str(screen.query_one("#summary", Label).content).startswith("60 VMs")
    header = app.header_state
    assert (header.context, header.vm_count, header.host_count) == ("demo", 60, 5)
    assert all(src.ok for src in header.sources) and len(header.sources) == 5


async def test_slash_filters_after_the_debounce(demo_app) -> None:  # type: ignore[no-untyped-def]
    app, pilot = demo_app
    screen = inventory(app)
    await pilot.press("slash")
    assert app.focused is screen.query_one("#filter", Input)
    await pilot.press(*"pg-prod")
    await pilot.pause(FILTER_DEBOUNCE_S + 0.2)
    want = sorted(n for n in demo_vms() if "pg-prod" in n)
    assert want and names(screen) == want
    assert "of 60 VMs" in str(screen.query_one("#summary", Label).content)

    # Fields: every shown VM has the tag; none without it.
    await pilot.press(*["backspace"] * 7, *"tag:env=staging")
    await pilot.press("enter")
    await pilot.pause(0.05)
    staging = sorted(n for n, v in demo_vms().items() if "env=staging" in v["tags"])  # type: ignore[operator]
    assert names(screen) == staging
    assert app.focused is screen.table, "enter hands the keys back to the table"

    # Negation and host:
    screen.show_filter("host:kvm-ams -state:running")
    await pilot.pause(0.05)
    shown = {vm.name: vm for vm in app.snapshot.vms if vm.name in names(screen)}
    assert shown and all(v.host.startswith("kvm-ams") and v.state is not VMState.RUNNING
                         for v in shown.values())

    await pilot.press("escape")
    await pilot.pause(0.05)
    assert screen.table.row_count == 60 and screen.filter_text == ""


async def test_typing_is_debounced(demo_app) -> None:  # type: ignore[no-untyped-def]
    """Rows do not change while the operator is still typing (one rebuild per pause)."""
    app, pilot = demo_app
    screen = inventory(app)
    await pilot.press("slash", *"kafka")
    assert screen.table.row_count == 60
    await pilot.pause(FILTER_DEBOUNCE_S + 0.2)
    assert screen.table.row_count == sum("kafka" in n for n in demo_vms())


async def test_s_cycles_sort_columns_and_S_reverses(demo_app) -> None:  # type: ignore[no-untyped-def]
    app, pilot = demo_app
    screen = inventory(app)
    by_key = {vm.key: vm for vm in app.snapshot.vms}

    def column(attr: str) -> list[object]:
        return [getattr(by_key[k], attr) for k in screen.table.row_keys()]

    await pilot.press("s")
    assert screen.sort_column == "state" and screen.table.sort_column == "state"
    states = [s.value for s in column("state")]  # type: ignore[attr-defined]
    assert states == sorted(states) and len(set(states)) > 2
    await pilot.press("s")
    assert screen.sort_column == "host"
    hosts = column("host")
    assert hosts == sorted(hosts)  # type: ignore[type-var]
    await pilot.press("S")
    assert screen.sort_reverse
    assert column("host") == sorted(hosts, reverse=True)  # type: ignore[type-var]
    await pilot.press("s", "s")
    assert screen.sort_column == "memory"
    memory = column("memory_bytes")
    assert memory == sorted(memory)  # type: ignore[type-var]
    assert "sort: memory" in str(screen.query_one("#summary", Label).content)
    header = screen.table.render_line(0).text
    assert "MEMORY ^" in header


async def test_enter_shows_detail_esc_returns_q_quits(demo_app) -> None:  # type: ignore[no-untyped-def]
    app, pilot = demo_app
    screen = inventory(app)
    await pilot.press("down", "down", "down")
    key = screen.table.cursor_key
    vm = next(v for v in app.snapshot.vms if v.key == key)
    assert screen.table.cursor_row == 3
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, VMDetailScreen))
    detail = app.screen
    assert isinstance(detail, VMDetailScreen) and detail.key == key
    text = static_text(detail.query_one("#detail", Static))
    assert vm.name in text and vm.host in text and vm.id in text
    assert f"{vm.state.value} (live)" in text
    await pilot.press("escape")
    await wait_for(pilot, lambda: isinstance(app.screen, InventoryScreen))
    assert inventory(app).table.cursor_key == key, "back on the same VM"
    await pilot.press("q")
    await wait_for(pilot, lambda: not app.is_running)
    assert app.return_code == 0


def static_text(widget: Static) -> str:
    """What a Static shows, as plain text (renders its Rich renderable off-screen)."""
    from rich.console import Console

    console = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(widget.content)
    return console.export_text()


async def test_cursor_stays_on_its_vm_across_a_poll_that_reorders(demo_app) -> None:  # type: ignore[no-untyped-def]
    """Sorted by state: a VM that changes state moves rows; the cursor follows its own VM."""
    app, pilot = demo_app
    screen = inventory(app)
    await pilot.press("s")  # by state
    keys = screen.table.row_keys()
    by_key = {vm.key: vm for vm in app.snapshot.vms}
    # Put the cursor on the last running VM; make a VM sorted after it ("stopped") run,
    # so it sorts before: every row from there shifts by one.
    running = [k for k in keys if by_key[k].state is VMState.RUNNING]
    target = running[-1]
    mover = next(k for k in keys if by_key[k].state is VMState.STOPPED)
    screen.table.move_to(target)
    index_before = screen.table.cursor_row
    backend = app.fleet.backends[by_key[mover].backend]
    await backend.start(by_key[mover].id)  # type: ignore[attr-defined]
    generation = app.snapshot.generation
    app.fleet.poke()
    await wait_for(pilot, lambda: app.snapshot.generation > generation
                   and any(v.key == mover and v.state is VMState.RUNNING for v in app.snapshot.vms))
    await pilot.pause(0.05)
    assert screen.table.cursor_key == target
    assert screen.table.row_keys().index(mover) < screen.table.cursor_row
    assert screen.table.cursor_row == index_before + 1


async def test_cursor_and_rows_survive_an_unchanged_poll(demo_app) -> None:  # type: ignore[no-untyped-def]
    app, pilot = demo_app
    screen = inventory(app)
    await pilot.press(*["down"] * 45)  # off the first page: scrolled
    key, scroll = screen.table.cursor_key, screen.table.scroll_offset.y
    assert scroll > 0
    poked = time.time()  # the fleet's clock
    app.fleet.poke()
    await wait_for(pilot, lambda: all(h.last_success is not None and h.last_success >= poked
                                      for h in app.snapshot.health))  # every source polled
    assert screen.table.cursor_key == key and screen.table.scroll_offset.y == scroll


async def test_palette_finds_a_vm_by_name_and_opens_it(demo_app) -> None:  # type: ignore[no-untyped-def]
    app, pilot = demo_app
    await pilot.press("ctrl+p")
    await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
    await pilot.press(*"kafka-prod-03")
    options = app.screen.query_one(OptionList)

    def prompts() -> list[str]:
        return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]

    await wait_for(pilot, lambda: any(p.startswith("VM kafka-prod-03") for p in prompts()))
    index = next(i for i, p in enumerate(prompts()) if p.startswith("VM kafka-prod-03"))
    options.highlighted = index
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, VMDetailScreen))
    vm = next(v for v in app.snapshot.vms if v.name == "kafka-prod-03")
    assert app.screen.key == vm.key  # type: ignore[attr-defined]
    await pilot.press("escape")
    await wait_for(pilot, lambda: isinstance(app.screen, InventoryScreen))
    assert inventory(app).table.cursor_key == vm.key, "the inventory cursor moved to it"


async def test_characters_typed_right_behind_slash_reach_the_filter_box(demo_app) -> None:  # type: ignore[no-untyped-def]
    """Over SSH, `/pg` typed quickly arrives in one packet: all three keys are queued before
    the first is handled. The `p` and `g` belong in the filter box (they were lost), and a `/`
    typed in the box is part of the filter."""
    app, pilot = demo_app
    screen = inventory(app)
    for key, character in (("slash", "/"), ("p", "p"), ("g", "g")):
        event = events.Key(key, character)
        event.set_sender(app)
        app._driver.send_message(event)  # as the terminal driver delivers a burst
    box = screen.query_one("#filter", Input)
    await wait_for(pilot, lambda: box.value == "pg")
    assert app.focused is box and screen.table.cursor_row == 0
    await pilot.press("slash")
    await wait_for(pilot, lambda: box.value == "pg/")
