"""VM names and tags that look like markup or carry control codes stay inert text, and crash
nothing, in the inventory, the detail screen and the command palette.

libvirt refuses '/' in domain names (`vm-[/]x` can only be a tag here) and XML 1.0 cannot
carry ESC at all (neither raw nor as `&#27;`: both the file parser and `defineXML` reject it),
so the escape sequence comes in its 8-bit C1 form (CSI = U+009B), which XML does allow.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console
from textual.command import CommandPalette
from textual.widgets import OptionList, Static

from backends.libvirt.backend import LibvirtBackend
from console.app import NovaApp
from console.fleet.polling import Fleet
from screens.inventory import InventoryScreen
from screens.vm_detail import VMDetailScreen
from tests import wait_for

pytestmark = pytest.mark.timeout(120)

NS = "https://novacron.dev/xmlns/tags/1"
R = "\ufffd"


def domain(name_xml: str, uuid: str, tags: tuple[str, ...] = ()) -> str:
    tag_xml = "".join(f"<tag>{t}</tag>" for t in tags)
    return (f"<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>"
            f"<name>{name_xml}</name><uuid>{uuid}</uuid>"
            f"<metadata><nova:tags xmlns:nova='{NS}'>{tag_xml}</nova:tags></metadata>"
            "<memory unit='MiB'>512</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os>"
            "<test:runstate>1</test:runstate></domain>")


HOSTILE = {  # name as shown → (name in XML, tags in XML)
    "vm-[bold]x": ("vm-[bold]x", ("vm-[/]x", "[red]env=prod")),
    "[@click=app.quit]quit": ("[@click=app.quit]quit", ("[@click=app.quit]",)),
    f"vm-{R}2J{R}52;c;QUFB-csi": ("vm-&#x9b;2J&#x9d;52;c;QUFB-csi", ()),
    f"invoice{R}gpj.exe": ("invoice&#x202e;gpj.exe", ()),
    "plain-vm": ("plain-vm", ()),
}


@pytest.fixture
def hostile_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("NOVACRON_STATE_DIR", str(tmp_path / "state"))
    doms = "".join(domain(xml, f"dddddddd-0000-0000-0000-00000000000{i}", tags)
                   for i, (xml, tags) in enumerate(HOSTILE.values()))
    path = tmp_path / "hostile.xml"
    path.write_text("<?xml version='1.0'?><node><cpu><active>4</active><total>4</total></cpu>"
                    f"<memory>8388608</memory>{doms}</node>", encoding="utf-8")
    return f"test://{path}"



def static_text(widget: Static) -> str:
    with open("/dev/null", "w") as sink:
        console = Console(width=200, record=True, file=sink)
        console.print(widget.content)
    return console.export_text()


@pytest.fixture
async def hostile_app(hostile_uri: str):  # type: ignore[no-untyped-def]
    app = NovaApp(Fleet("hostile", [LibvirtBackend("evil-host", hostile_uri)], interval_s=30.0))
    async with app.run_test(size=(120, 20)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, InventoryScreen)
                       and app.screen.table.row_count == len(HOSTILE))
        yield app, pilot


async def test_table_shows_names_and_tags_literally(hostile_app) -> None:  # type: ignore[no-untyped-def]
    app, pilot = hostile_app
    table = app.screen.table
    shown = {table.row(k).cells[0]: table.row(k) for k in table.row_keys()}
    assert set(shown) == set(HOSTILE)
    assert shown["vm-[bold]x"].cells[5] == "vm-[/]x,[red]env=prod"
    lines = [table.render_line(y).text for y in range(1, len(HOSTILE) + 1)]
    for name in HOSTILE:
        assert any(line.startswith(name) for line in lines), name
    assert not any(0x80 <= ord(c) <= 0x9F or ord(c) < 0x20 for line in lines for c in line)
    # Click the row whose name is a click action: it only moves the cursor.
    row = table.row_keys().index(next(k for k in table.row_keys()
                                      if table.row(k).cells[0].startswith("[@click")))
    await pilot.click(table, offset=(3, row + 1))
    await pilot.pause(0.1)
    assert app.is_running and table.cursor_row == row


async def test_detail_shows_each_name_literally(hostile_app) -> None:  # type: ignore[no-untyped-def]
    app, pilot = hostile_app
    for index in range(len(HOSTILE)):
        app.screen.table.move_to(app.screen.table.row_keys()[index])
        name = app.screen.table.row(app.screen.table.cursor_key).cells[0]
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, VMDetailScreen))
        text = static_text(app.screen.query_one("#detail", Static))
        assert name in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, InventoryScreen))
    assert app.is_running


@pytest.mark.parametrize(("query", "expected"), [
    ("bold", "VM vm-[bold]x"),
    ("quit", "VM [@click=app.quit]quit"),
])
async def test_palette_shows_names_literally(hostile_app, query: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    app, pilot = hostile_app
    await pilot.press("ctrl+p")
    await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
    await pilot.press(*query)
    options = app.screen.query_one(OptionList)

    def prompts() -> list[str]:
        out = []
        for i in range(options.option_count):
            prompt = options.get_option_at_index(i).prompt
            out.append(getattr(prompt, "plain", str(prompt)).split("\n")[0])
        return out

    await wait_for(pilot, lambda: any(p.startswith("VM ") for p in prompts()))
    assert expected in prompts()
    await pilot.press("escape")
    assert app.is_running
