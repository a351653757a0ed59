"""Team mode in the console: another console's action shows up here as it happens, as a
toast and in the Activity screen (`:activity`). The console opens the team's PostgreSQL from
its `store` setting; the other console is a real process holding a VM (`audit_writer.py`)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import pytest

from console.app import NovaApp
from console.config import demo_context
from console.fleet.polling import Fleet
from console.fleet.sources import build_backends
from console.store.identity import local_user
from screens.activity import ActivityScreen
from tests import wait_for
from tests.integration.postgres_fixture import shared_server

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

WRITER = Path(__file__).with_name("audit_writer.py")


async def test_another_consoles_action_arrives_as_a_toast_and_in_activity() -> None:
    url = shared_server().fresh_url()
    fleet = Fleet("demo", build_backends(demo_context(), read_only=True), interval_s=2.0)
    app = NovaApp(fleet, read_only=True, store=url)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.activity_live, what="the activity feed is followed")
        other = await asyncio.create_subprocess_exec(
            sys.executable, str(WRITER), url, "bastion", "0", "--hold", "demo/kvm-1/uuid-9",
            stdout=asyncio.subprocess.PIPE)
        try:
            assert other.stdout is not None
            assert (await other.stdout.readline()).startswith(b"holding ")
            expected = f"{local_user()}@{socket.gethostname()} started shutdown vm-bastion"
            await wait_for(pilot, lambda: any(str(n.message) == expected
                                              for n in app._notifications),
                           timeout_s=30, what="the toast for the other console's action")
            await pilot.press("colon")
            await pilot.pause(0.2)
            for key in "activity":
                await pilot.press(key)
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, ActivityScreen),
                           what="the Activity screen")
            table = app.screen.query_one("#activity")
            await wait_for(pilot, lambda: table.row_count >= 1, what="an activity row")
            [(_seen, event)] = list(app.activity)
            assert not event.mine and event.status == "started"
            assert (event.action, event.target_name) == ("vm.shutdown", "vm-bastion")
        finally:
            os.kill(other.pid, signal.SIGKILL)
            await other.wait()
