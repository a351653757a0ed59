"""A console killed in the middle of an Azure start, and the next one finishing the story.

A child process (the dispatcher, store and Azure backend a console uses) starts the recorded VM
through the real aio client against Azure's recorded traffic; the playback server holds the
operation's first status poll; the child is killed with SIGKILL. A console (the real app)
started on the same store resumes the operation from the continuation token kept in the audit
row: the board shows it InProgress, then Succeeded; the original audit row gets the true
outcome; Azure was asked to start the VM once. On both store engines.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.widgets import Static

from backends.azure.backend import AzureBackend
from backends.azure.source import AzureSource
from console.actions.dispatcher import Dispatcher
from console.app import NovaApp
from console.fleet.polling import Fleet
from console.models import VMState
from console.store import Store
from tests import wait_for
from tests.integration.azure_playback import (
    RECORDED_VM,
    SUBSCRIPTION,
    Playback,
    StaticToken,
    playback_server,
)
from tests.integration.postgres_fixture import ENGINES, query, store_location

pytestmark = pytest.mark.timeout(150)

CHILD = Path(__file__).resolve().parents[1] / "integration" / "azure_console_child.py"
START_POLLS = "/operations/c505dc3a"
"""The recorded start operation's status URL (4 polls, then its Location GET)."""


@pytest.fixture(scope="module")
def arm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Playback]:
    with playback_server(tmp_path_factory.mktemp("azure-playback")) as server:
        yield server


def config(arm: Playback) -> AzureSource:
    return AzureSource(name="azure-prod", subscriptions=[SUBSCRIPTION], base_url=arm.base_url,
                       ca_bundle=arm.ca_file, poll_interval_s=0.05)


def panel_text(app: Any) -> str:
    """What the board's operations panel shows, as plain text."""
    panel = app.screen.query_one("#operations", Static)
    console = Console(width=120, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(panel.content)
    return console.export_text()


async def kill_mid_start(arm: Playback, store_at: str) -> int:
    """Run `vm.start` in a child console, kill it while Azure is still starting the VM;
    returns the audit row's id."""
    held = arm.hold(START_POLLS)
    child = await asyncio.create_subprocess_exec(
        sys.executable, str(CHILD), store_at, arm.base_url, arm.ca_file, SUBSCRIPTION,
        RECORDED_VM, "vm.start", stdout=asyncio.subprocess.PIPE)
    try:
        assert child.stdout is not None
        line = (await asyncio.wait_for(child.stdout.readline(), 60)).decode()
        assert line.startswith("token "), line
        assert await asyncio.to_thread(held.arrived.wait, 30), "the child never polled"
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()
    held.release()
    return int(line.split()[1])


@pytest.mark.parametrize("engine", ENGINES)
async def test_killed_console_mid_start_is_resumed_by_the_next_one(
        arm: Playback, tmp_path: Path, engine: str) -> None:
    arm.reset()
    store_at = store_location(engine, tmp_path)
    first = AzureBackend(config(arm), credential=StaticToken())
    await first.deallocate(RECORDED_VM)  # so the start has something to do
    await first.close()

    row_id = await kill_mid_start(arm, store_at)
    [(status, resume)] = query(store_at, f"SELECT status, resume_json FROM audit WHERE id = {row_id}")
    assert status == "started"  # killed: nobody recorded an outcome
    assert json.loads(str(resume))["operation"] == "start" and json.loads(str(resume))["token"]
    if engine == "postgresql":  # the dead console's session (and its lock) must be gone
        from tests.integration.postgres_fixture import shared_server, wait_session_gone

        [(session,)] = query(store_at, f"SELECT session_pid FROM audit WHERE id = {row_id}")
        wait_session_gone(shared_server(), int(str(session)))

    held = arm.hold(START_POLLS)  # the next console's first poll waits: the board shows it
    backend = AzureBackend(config(arm), credential=StaticToken())
    fleet = Fleet("azure", [backend], interval_s=1.0)
    store = await Store.open(store_at)
    dispatcher = Dispatcher(fleet.backends, audit=store, context="azure", read_only=False,
                            poke=fleet.poke)
    app = NovaApp(fleet, dispatcher=dispatcher)
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            await pilot.press("3")
            await wait_for(pilot, lambda: held.arrived.is_set(), timeout_s=30,
                           what="the new console polling the operation")
            await wait_for(pilot, lambda: "InProgress" in panel_text(app),
                           what="the board showing the operation running")
            text = panel_text(app)
            assert "virtualmachinexeb772750" in text and "start" in text, text
            held.release()
            await wait_for(pilot, lambda: "Succeeded" in panel_text(app), timeout_s=30,
                           what="the board showing the operation done")
            entry = await store.audit_entry(row_id)
            await wait_for(pilot, lambda: app.snapshot is not None and any(
                vm.id == RECORDED_VM and vm.state is VMState.RUNNING
                for vm in app.snapshot.vms), timeout_s=20, what="the VM listed running")
            said = [n.message for n in app._notifications]
            assert any("watched to its end: done" in m for m in said), said
        entry = await store.audit_entry(row_id)
        assert entry is not None and entry.status.value == "ok", entry
        resumed = [e for e in await store.audit(limit=10) if "resumed_from" in e.params_json]
        assert len(resumed) == 1 and resumed[0].status.value == "ok"
        assert json.loads(resumed[0].params_json)["resumed_from"] == row_id
        assert len(arm.requests("POST", "/start")) == 1  # resumed, never started twice
        assert await store.resumable_actions("azure", 0.0) == []  # nothing left to resume
    finally:
        await store.close()
