"""The per-VM lock holds across consoles that share the audit store.

Two dispatchers with their own `Store` connections on one database file stand for two
consoles (the TUI and the CLI, or two operators). The store and dispatchers are real; the
backend being dispatched to is a small class implementing `SupportsPower` whose shutdown
waits for an `asyncio.Event`, so the first action is in progress for as long as the test
wants. The CLI test runs `novacron vm shutdown` in a real subprocess on the demo fleet.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from backends.base import SupportsPower
from console.actions.dispatcher import Dispatcher, Outcome, Request, Target
from console.cli.exit import ExitStatus
from console.config import demo_context
from console.errors import Code
from console.fleet.polling import Fleet
from console.fleet.sources import build_backends
from console.models import VM, Host, VMState
from console.store import Store, open_store

pytestmark = pytest.mark.timeout(120)


class HeldBackend:
    """A power-capable backend whose shutdown lasts until the test releases it."""

    kind = "held"

    def __init__(self, name: str) -> None:
        self.name = name
        self.release = asyncio.Event()
        self.entered = asyncio.Event()
        self.calls: list[tuple[str, str]] = []

    async def hosts(self) -> Sequence[Host]:
        return ()

    async def vms(self) -> Sequence[VM]:
        return (VM(id=TARGET.vm_id, name=TARGET.name, state=VMState.RUNNING, host=self.name,
                   backend=self.name, vcpus=2, memory_bytes=2**30),)

    async def close(self) -> None:
        return None

    async def _call(self, what: str, vm_id: str) -> None:
        self.calls.append((what, vm_id))

    async def shutdown(self, vm_id: str, timeout_s: float = 60.0) -> None:
        self.calls.append(("shutdown", vm_id))
        self.entered.set()
        await asyncio.wait_for(self.release.wait(), timeout_s)

    async def start(self, vm_id: str) -> None:
        await self._call("start", vm_id)

    async def reboot(self, vm_id: str) -> None:
        await self._call("reboot", vm_id)

    async def force_off(self, vm_id: str) -> None:
        await self._call("force_off", vm_id)

    async def suspend(self, vm_id: str) -> None:
        await self._call("suspend", vm_id)

    async def resume(self, vm_id: str) -> None:
        await self._call("resume", vm_id)

    async def delete(self, vm_id: str, remove_storage: bool = False) -> None:
        await self._call("delete", vm_id)


TARGET = Target("kvm-1", "6f1c0b8e-0000-4000-8000-000000000001", "web-01")


def shutdown(target: Target = TARGET, origin: str = "tui") -> Request:
    return Request("vm.shutdown", target, {"timeout_s": 60.0}, confirmed=True, origin=origin)


def force_off(target: Target = TARGET) -> Request:
    return Request("vm.force_off", target, typed_name=target.name, origin="cli")


@pytest.fixture
async def consoles(tmp_path: Path) -> AsyncIterator[tuple[Dispatcher, Dispatcher, HeldBackend]]:
    backend = HeldBackend("kvm-1")
    assert isinstance(backend, SupportsPower)
    db = tmp_path / "novacron.db"
    async with open_store(db) as first_store, open_store(db) as second_store:
        first = Dispatcher({"kvm-1": backend}, audit=first_store, context="prod", read_only=False)
        second = Dispatcher({"kvm-1": backend}, audit=second_store, context="prod",
                            read_only=False)
        yield first, second, backend
        backend.release.set()


async def start_held(dispatcher: Dispatcher, backend: HeldBackend,
                     request: Request) -> asyncio.Task[Outcome]:
    task = asyncio.create_task(dispatcher.run(request))
    await asyncio.wait_for(backend.entered.wait(), 10)  # its audit row is durable by now
    return task


def assert_names_the_holder(outcome: Outcome) -> None:
    assert outcome.status == "refused" and outcome.error is not None
    assert outcome.error.kind is Code.OPERATION_IN_PROGRESS
    text = str(outcome.error)
    assert "shut down, started by " in text
    assert f"from pid {os.getpid()} on {socket.gethostname()}" in text
    assert "wait for it to finish" in text


async def test_second_console_is_refused_while_the_first_acts(consoles) -> None:  # type: ignore[no-untyped-def]
    first, second, backend = consoles
    held = await start_held(first, backend, shutdown())
    assert first.busy_with(TARGET) == "vm.shutdown" and second.busy_with(TARGET) is None

    refused = await second.run(force_off())  # its own table is empty: the store refuses
    assert_names_the_holder(refused)
    assert second.busy_with(TARGET) is None  # the refusal released its in-process entry
    assert backend.calls == [("shutdown", TARGET.vm_id)]  # force-off never reached the backend

    # The refusal is audited like the others, after the holder's row, with the same message.
    store: Store = second.audit  # type: ignore[assignment]
    holder_row, refusal_row = sorted(await store.audit(), key=lambda e: e.id)
    assert (holder_row.action, holder_row.status.value) == ("vm.shutdown", "started")
    assert (refusal_row.action, refusal_row.status.value) == ("vm.force_off", "refused")
    assert refusal_row.error_code == "NOVA-3003" and refusal_row.id == refused.audit_id
    assert "shut down, started by" in refusal_row.error_cause
    assert holder_row.started_iso in refusal_row.error_cause

    # The first console's own table answers the same, without a round trip.
    again = await first.run(force_off())
    assert_names_the_holder(again)

    backend.release.set()
    assert (await held).ok
    after = await second.run(force_off())
    assert after.ok, after.error
    assert backend.calls[-1] == ("force_off", TARGET.vm_id)
    statuses = [e.status.value for e in sorted(await store.audit(), key=lambda e: e.id)]
    assert statuses == ["ok", "refused", "refused", "ok"]


async def test_other_vms_stay_free_and_a_failed_holder_frees_the_vm(consoles) -> None:  # type: ignore[no-untyped-def]
    first, second, backend = consoles
    held = await start_held(first, backend, Request(
        "vm.shutdown", TARGET, {"timeout_s": 0.5}, confirmed=True))
    other = Target("kvm-1", "another-uuid", "web-02")
    assert (await second.run(force_off(other))).ok
    outcome = await held  # the guest ignored the shutdown: it times out, the row is closed
    assert outcome.error is not None and outcome.error.kind is Code.TIMEOUT
    assert (await second.run(force_off())).ok


async def test_cli_refused_by_the_store_lock_exits_3(tmp_path: Path) -> None:
    """`novacron vm shutdown` while this console shuts the same demo VM down: exit 3, NOVA-3003."""
    fleet = Fleet("demo", build_backends(demo_context(), read_only=True), timeout_s=30)
    try:
        snapshot = await fleet.poll_once()
    finally:
        await fleet.stop()
    vm = sorted((v for v in snapshot.vms if v.state is VMState.RUNNING), key=lambda v: v.name)[0]
    target = Target(vm.backend, vm.id, vm.name)
    backend = HeldBackend(vm.backend)
    state_dir = Path(os.environ["NOVACRON_STATE_DIR"])  # the CLI's store, as conftest set it
    async with open_store(state_dir / "novacron.db") as store:
        tui = Dispatcher({vm.backend: backend}, audit=store, context="demo", read_only=False)
        held = await start_held(tui, backend, shutdown(target))
        cli = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "console.cli.main", "vm", "shutdown", vm.name, "--yes",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(cli.communicate(), 90)
        assert cli.returncode == ExitStatus.REFUSED, (out, err)
        text = err.decode()
        assert "NOVA-3003" in text and vm.name in text
        assert "shut down, started by" in text and f"pid {os.getpid()}" in text
        [refusal] = await store.audit(filter_text="status:refused")
        assert refusal.params["origin"] == "cli" and refusal.error_code == "NOVA-3003"

        backend.release.set()
        assert (await held).ok
        cli = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "console.cli.main", "vm", "shutdown", vm.name, "--yes",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(cli.communicate(), 90)
        assert cli.returncode == ExitStatus.OK, (out, err)


async def test_a_front_end_learns_before_confirming_that_another_console_holds_the_vm(consoles) -> None:  # type: ignore[no-untyped-def]
    """The TUI asks before its confirmation dialog, so nobody types a name for nothing."""
    first, second, backend = consoles
    assert await second.held_elsewhere(force_off()) is None  # free: ask away
    held = await start_held(first, backend, shutdown())
    busy = await second.held_elsewhere(force_off())
    assert busy is not None and busy.kind is Code.OPERATION_IN_PROGRESS
    assert "shut down, started by" in str(busy)
    store: Store = second.audit  # type: ignore[assignment]
    assert [e.action for e in await store.audit()] == ["vm.shutdown"]  # asking wrote nothing
    backend.release.set()
    assert (await held).ok
    assert await second.held_elsewhere(force_off()) is None


async def test_the_tui_refuses_at_once_without_a_dialog(consoles) -> None:  # type: ignore[no-untyped-def]
    from console.app import NovaApp
    from screens.inventory import InventoryScreen

    first, second, backend = consoles
    held = await start_held(first, backend, shutdown())
    app = NovaApp(Fleet("prod", [backend], interval_s=5), dispatcher=second)  # type: ignore[list-item]
    async with app.run_test(size=(120, 30)) as pilot:
        for _ in range(100):
            await pilot.pause(0.05)
            if isinstance(app.screen, InventoryScreen) and app.screen.table.row_count == 1:
                break
        inventory = app.screen
        await pilot.press("F")  # force-off: would ask for the VM's name
        for _ in range(40):
            await pilot.pause(0.05)
            if any("NOVA-3003" in str(n.message) for n in app._notifications):
                break
        assert app.screen is inventory, "a confirmation opened for an action that is refused"
        shown = [str(n.message) for n in app._notifications]
        assert any("NOVA-3003" in m for m in shown), (shown, inventory.table.cursor_key)
    backend.release.set()
    assert (await held).ok
    assert backend.calls == [("shutdown", TARGET.vm_id)]
