"""A console whose PostgreSQL session is lost (network cut, server restart, an admin's
pg_terminate_backend): the action in hand is refused with the reason and never reaches the
host, and the next one runs on a new session. Real server, real libvirt (the test driver)."""

from __future__ import annotations

import pytest

from backends.libvirt.backend import LibvirtBackend
from console.actions.dispatcher import Dispatcher, Request, Target
from console.models import VMState
from console.store import open_store
from tests.integration.postgres_fixture import shared_server

pytestmark = pytest.mark.integration


async def test_a_lost_session_refuses_the_action_with_the_reason_then_reconnects() -> None:
    server = shared_server()
    backend = LibvirtBackend("lvd", "test:///default")
    try:
        [guest] = [vm for vm in await backend.vms() if vm.name == "test"]
        assert guest.state is VMState.RUNNING
        target = Target("lvd", guest.id, guest.name)
        async with open_store(server.fresh_url()) as store:
            dispatcher = Dispatcher({"lvd": backend}, audit=store, context="lost",
                                    read_only=False)
            first_session = store.engine.backend_pid  # type: ignore[attr-defined]
            with server.admin() as conn:
                conn.execute("SELECT pg_terminate_backend(%s)", (first_session,))

            def shutdown() -> Request:
                return Request("vm.shutdown", target, {"timeout_s": 5.0}, confirmed=True)

            refused = await dispatcher.run(shutdown())
            assert refused.status == "failed" and refused.error is not None
            text = str(refused.error)
            assert "the audit log cannot be written, so the action was not run" in text
            assert "PostgreSQL novacron on 127.0.0.1" in text
            [(vm_state)] = [vm.state for vm in await backend.vms() if vm.id == guest.id]
            assert vm_state is VMState.RUNNING  # the host was never asked

            ran = await dispatcher.run(shutdown())
            assert ran.ok, ran.error
            assert store.engine.backend_pid != first_session  # type: ignore[attr-defined]
            [(vm_state)] = [vm.state for vm in await backend.vms() if vm.id == guest.id]
            assert vm_state is VMState.STOPPED
            assert [(e.action, e.status.value) for e in await store.audit()] == [
                ("vm.shutdown", "ok")]
    finally:
        await backend.close()
