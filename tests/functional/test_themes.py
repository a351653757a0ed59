"""Themes and terminals: 16-colour output without truecolor, NO_COLOR, theme per context, the
palette's theme list, OSC 52 copy, remappable keys, ASCII drawing, no hex in any .tcss."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.filter import Monochrome, NoColor

from console.app import NovaApp
from console.cli import main as cli
from console.cli.common import parse_duration
from console.config import demo_context
from console.fleet.polling import Fleet
from console.fleet.sources import build_backends
from screens.copy import sanitize_for_clipboard
from themes import THEME_NAMES, ThemeCommands
from widgets.resource_table import ResourceTable
from widgets.status_header import StatusHeader

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).resolve().parents[2]


def demo_app(**kwargs: Any) -> NovaApp:
    fleet = Fleet("demo", build_backends(demo_context(), read_only=True), interval_s=0.5)
    return NovaApp(fleet, **kwargs)


async def loaded(pilot: Any, app: NovaApp) -> None:
    for _ in range(200):
        if app.snapshot is not None and app.snapshot.vms:
            break
        await pilot.pause(0.05)
    await pilot.pause(0.2)


def terminal_output(app: NovaApp) -> str:
    """What the app would write for a full repaint, on a truecolor terminal."""
    console = Console(color_system="truecolor", force_terminal=True, width=app.size.width)
    update = app.screen._compositor.render_full_update()
    return update.render_segments(console)


@pytest.mark.parametrize("mode", ["inventory", "hosts", "metrics"])
async def test_ansi_theme_writes_only_16_colour_sgr(mode: str) -> None:
    """novacron-ansi never emits truecolor (38;2 / 48;2) or 256-colour (38;5) sequences."""
    app = demo_app(theme="novacron-ansi")
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(pilot, app)
        await app.switch_mode(mode)
        await pilot.pause(0.2)
        out = terminal_output(app)
        assert not re.search(r"\x1b\[[0-9;]*[34]8;[25];", out), "non-ANSI colour in output"
        assert re.search(r"[;[](3[0-7]|9[0-7])[;m]", out)  # it does colour
        app.theme = "novacron-dark"
        await pilot.pause(0.2)
        assert re.search(r"\x1b\[[0-9;]*38;2;", terminal_output(app))  # the check can fail


async def test_no_color_strips_colour_but_keeps_the_cursor_visible(monkeypatch: Any) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    for theme in ("novacron-dark", "novacron-ansi"):
        app = demo_app(theme=theme)
        async with app.run_test(size=(100, 30)) as pilot:
            await loaded(pilot, app)
            assert app.no_color
            assert any(isinstance(f, NoColor | Monochrome) for f in app.get_line_filters())
            out = terminal_output(app)
            if theme == "novacron-ansi":
                assert not re.search(r"\x1b\[[0-9;]*(3[0-7]|9[0-7]|4[0-7])m", out)
            table = app.screen.query_one(ResourceTable)
            assert table.get_component_rich_style("resource-table--cursor").reverse
            assert "\x1b[7m" in out or ";7m" in out or "[7;" in out  # reverse video is drawn


async def test_theme_per_context_and_production_frame(tmp_path: Path, monkeypatch: Any) -> None:
    """A context's `theme` and `production = true` reach the app: red header and frame."""
    config = tmp_path / "config.toml"
    uris = "\n".join(f'[[contexts.prod.backends]]\nkind = "libvirt"\nname = "{n}"\nuri = "{u}"\n'
                     for n, u in demo_context_uris())
    config.write_text(f'default_context = "prod"\n[contexts.prod]\ntheme = "novacron-high-contrast"\n'
                      f"production = true\n{uris}", encoding="utf-8")
    made: list[NovaApp] = []
    monkeypatch.setattr(NovaApp, "run", lambda self, **kw: made.append(self))
    monkeypatch.delenv("NOVACRON_ASCII", raising=False)
    assert cli.main(["--config", str(config)]) == 0
    app = made[0]
    assert app.production and app._theme_name == "novacron-high-contrast"
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(pilot, app)
        assert app.theme == "novacron-high-contrast"
        assert app.has_class("-production")
        header = app.screen.query_one(StatusHeader)
        assert header.has_class("-production")
        red = app.current_theme.variables["production-accent"]
        assert header.styles.background.hex.upper() == red.upper()
        assert app.screen.styles.border_left[1].hex.upper() == red.upper()
        assert "PROD" in str(header.render())


def demo_context_uris() -> list[tuple[str, str]]:
    from console import demo
    return demo.host_uris()[:2]


async def test_palette_theme_switcher_lists_only_ours() -> None:
    app = demo_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(pilot, app)
        provider = ThemeCommands(app.screen)
        titles = [hit.text async for hit in provider.discover()]
        assert [t.removeprefix("Theme: ") for t in titles] == list(THEME_NAMES)
        pushed: list[Any] = []
        app.push_screen = pushed.append  # type: ignore[method-assign, assignment]
        app.action_change_theme()  # the palette's built-in "Theme" command
        assert list(pushed[0]._supplied_providers) == [ThemeCommands]
        hit = next(h for h in [h async for h in provider.discover()] if "ansi" in str(h.text))
        hit.command()
        await pilot.pause(0.2)
        assert app.theme == "novacron-ansi"


async def test_osc52_copy_writes_the_selected_vm(monkeypatch: Any) -> None:
    """`y` copies the name, `Y` the id, `ctrl+y` the first address, with OSC 52."""
    app = demo_app()
    written: list[str] = []
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(pilot, app)
        monkeypatch.setattr(app._driver, "write", written.append)
        vm = app.screen.selected_vm()  # type: ignore[attr-defined]
        await pilot.press("y")
        await pilot.press("Y")
        await pilot.press("enter")  # the detail screen copies the VM it shows
        await pilot.pause(0.2)
        await pilot.press("y")
        await pilot.pause(0.1)
    payloads = [base64.b64decode(m.group(1)).decode()
                for m in re.finditer(r"\x1b\]52;c;([A-Za-z0-9+/=]*)\a", "".join(written))]
    assert payloads == [vm.name, vm.id, vm.name]


def test_clipboard_text_is_sanitized() -> None:
    assert sanitize_for_clipboard("web\x1b]52;c;evil\x07-01\u202e") == "web]52;c;evil-01"
    assert len(sanitize_for_clipboard("x" * 10_000)) == 256


async def test_keys_remap_by_binding_id() -> None:
    app = demo_app(keymap={"app.copy_name": "c", "app.hosts": "h"})
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(pilot, app)
        await pilot.press("h")
        await pilot.pause(0.2)
        assert app.current_mode == "hosts"


async def test_ascii_mode_draws_no_glyph_outside_ascii_in_tables() -> None:
    app = demo_app(ascii=True)
    try:
        async with app.run_test(size=(160, 40)) as pilot:
            await loaded(pilot, app)
            await app.switch_mode("hosts")
            await pilot.pause(0.3)
            table = app.screen.query_one(ResourceTable)
            lines = [table.render_line(y).text for y in range(1, 4)]
            assert all(line.isascii() for line in lines), lines
            assert any("#" in line for line in lines)
    finally:
        ResourceTable.GLYPHS = ResourceTable.UNICODE_GLYPHS


def test_no_hex_colour_in_any_tcss() -> None:
    for path in ROOT.glob("**/*.tcss"):
        if ".venv" in path.parts:
            continue
        assert not re.search(r"#[0-9a-fA-F]{3,8}\b", path.read_text()), path


def test_default_keymap_avoids_multiplexer_prefixes() -> None:
    keys = set()
    for bindings in NovaApp._merge_bindings().key_to_bindings:
        keys.update(bindings.split(","))
    assert not keys & {"ctrl+b", "ctrl+a"}


def test_parse_duration() -> None:
    assert parse_duration("20s") == 20
    assert parse_duration("1m") == 60
    assert parse_duration("15") == 15
