"""The palette's "Start the lab" / "Stop the lab" on the demo console, for real: a small lab
of its own (one host, one guest, its own root and ports beside the session lab), each step
listed while it runs, checked with virsh, and gone again after "Stop the lab"."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest
from textual.command import CommandPalette
from textual.widgets import Button, OptionList, Static

from console.app import NovaApp
from console.config import demo_context, load_settings
from console.fleet.polling import Fleet
from console.fleet.sources import build_backends
from console.lab import preflight
from console.lab.lab import Lab
from console.lab.procs import in_process_table
from console.lab.report import LabStatus
from screens.lab_dialog import LabDialog
from tests import wait_for

try:
    from tests.integration.lab_fixture import guest_names
except ImportError:  # pytest's default import mode puts tests/integration itself on sys.path
    from lab_fixture import guest_names  # type: ignore[no-redef]

pytestmark = pytest.mark.integration

ROOT = Path("/var/lib/novacron-lab-dialog-test")
PORT_OFFSET = 300  # the session lab uses 100; a user's own lab 0


class SmallLab(Lab):
    """The real lab, one host and one guest: what the dialog drives is unchanged."""

    def up(self, hosts: int = 1, vms: int = 1, **kw: Any) -> LabStatus:  # type: ignore[override]
        return super().up(1, 1, **kw)


def demo_app(config: Path, *, read_only: bool = False) -> NovaApp:
    app = NovaApp(Fleet("demo", build_backends(demo_context(), read_only=read_only),
                        interval_s=3600), read_only=read_only)
    app.lab_factory = lambda: SmallLab(ROOT, config_path=config, port_offset=PORT_OFFSET)
    return app


async def choose_in_palette(app: NovaApp, pilot: Any, title: str) -> None:
    """Open the palette, type `title`, highlight its entry and press enter."""
    await pilot.press("ctrl+p")
    await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), what="the palette")
    await pilot.press(*title)
    options = app.screen.query_one(OptionList)

    def prompts() -> list[str]:
        return [str(options.get_option_at_index(i).prompt).split("\n")[0]  # title, not help
                for i in range(options.option_count)]

    await wait_for(pilot, lambda: title in prompts(), what=f"{title!r} in the palette")
    options.highlighted = prompts().index(title)
    await pilot.press("enter")


async def run_from_palette(app: NovaApp, pilot: Any, title: str) -> LabDialog:
    await choose_in_palette(app, pilot, title)
    await wait_for(pilot, lambda: isinstance(app.screen, LabDialog), what="the lab dialog")
    dialog = app.screen
    assert isinstance(dialog, LabDialog)
    await wait_for(pilot, lambda: dialog.done, timeout_s=600, what=f"{title} to finish")
    return dialog


@pytest.fixture
def clean_root() -> Any:
    if problems := preflight.problems():
        pytest.skip("lab cannot run here: " + "; ".join(problems))
    if (ROOT / "state.json").exists():
        Lab(ROOT).down()  # a previous run died before its teardown
    yield
    if (ROOT / "state.json").exists():
        Lab(ROOT).down()
    shutil.rmtree(ROOT, ignore_errors=True)


async def test_start_then_stop_the_lab_from_the_palette(tmp_path: Path, clean_root: None) -> None:
    config = tmp_path / "config.toml"
    app = demo_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        dialog = await run_from_palette(app, pilot, "Start the lab")
        assert dialog.failed is None, dialog.failed
        shown = str(dialog.query_one("#steps", Static).render())
        for step in ("host labhost1", "bastion", "prometheus", "guests: 1 defined",
                     "contexts: lab, lab-prom and lab-ssh"):
            assert step in shown, (step, shown)
        lab = Lab(ROOT)
        [host] = lab.hosts()
        assert len(guest_names(host.uri)) == 1  # virsh: the guest runs
        settings, _ = load_settings(config)
        assert host.uri in str(settings.contexts["lab"].backends)  # the context to open
        opener = dialog.query_one("#open", Button)
        assert opener.display and str(opener.label) == "Open the lab context"
        await pilot.click("#open")
    assert app.return_value == "lab"  # the CLI reopens the console on this context

    recorded = [p for hs in lab.state().hosts.values() for p in hs.procs.values()]
    app = demo_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        dialog = await run_from_palette(app, pilot, "Stop the lab")
        assert dialog.failed is None, dialog.failed
        shown = str(dialog.query_one("#steps", Static).render())
        assert "guests: 1 destroyed" in shown and "labhost1: daemons stopped" in shown, shown
        # From the demo there is nothing to go back to.
        assert not dialog.query_one("#open", Button).display
    assert not await asyncio.to_thread(ROOT.exists)
    assert recorded and not any(in_process_table(p) for p in recorded)


async def test_a_read_only_console_neither_starts_nor_stops_the_lab(
        tmp_path: Path, clean_root: None) -> None:
    app = demo_app(tmp_path / "config.toml", read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await choose_in_palette(app, pilot, "Start the lab")
        await pilot.pause(0.3)
        assert not isinstance(app.screen, LabDialog)
        said = [str(n.message) for n in app._notifications]
        assert any("Read-only" in m and "novacron lab up" in m for m in said), said
    assert not (ROOT / "state.json").exists()

