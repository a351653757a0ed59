"""Acting on a VM of a Prometheus inventory: the console connects to the VM's host only to act.

A real libvirtd of our own (`libvirtd_fixture`, its test driver's shared `/default` hypervisor
with the running guest `test`) is host `h1`; a small real Prometheus, backfilled with the
libvirt exporter's series for that guest (`instance="h1"`, its real UUID) and for one VM on a
host `h2` the config gives no URI, is the inventory. The context is built from a config file
(`inventory = true`, `host_uris = {h1 = <that libvirtd>}`), polled once, and the actions run
through the real dispatcher and audit store; `virsh` reads every result back on its own
connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import libvirt
import pytest

from backends.libvirt.events import silence_default_error_handler
from backends.prometheus.host_actions import HostActions
from console.actions import registry as actions
from console.actions.dispatcher import Dispatcher, Outcome, Request, Target
from console.config import load_settings, resolve_context
from console.errors import Code, NovaError
from console.fleet.polling import Fleet
from console.fleet.sources import build_backends
from console.store import Store
from tests.integration import prometheus_fixture as pf
from tests.integration.libvirtd_fixture import Libvirtd, libvirtd  # noqa: F401  (pytest fixture)
from tests.integration.test_actions_libvirtd import domstate, virsh

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
silence_default_error_handler()

GUEST = "test"
FAR = "far-away"


@dataclass(frozen=True)
class TwoHosts(pf.Fleet):
    """Host h1 runs the real guest (its real UUID); host h2 runs FAR, which no URI reaches."""

    guest_uuid: str = ""
    hosts: int = 2
    vms_per_host: int = 1

    def host_name(self, h: int) -> str:
        return f"h{h + 1}"

    def host_up(self, h: int) -> bool:
        return True

    def vm_name(self, h: int, i: int) -> str:
        return GUEST if h == 0 else FAR

    def vm_uuid(self, h: int, i: int) -> str:
        return self.guest_uuid if h == 0 else super().vm_uuid(h, i)

    def vm_state_code(self, h: int, i: int) -> int:
        return 1


def write_config(tmp_path: Path, prometheus_url: str, h1_uri: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        'default_context = "big"\n[contexts.big]\n\n[[contexts.big.backends]]\n'
        f'kind = "prometheus"\nname = "prom"\nurl = "{prometheus_url}"\ntimeout_s = 30\n'
        f'inventory = true\nhost_uris = {{ h1 = "{h1_uri}" }}\n', encoding="utf-8")
    return path


async def test_actions_on_a_prometheus_inventory_reach_the_host(
        libvirtd: Libvirtd, tmp_path: Path) -> None:  # noqa: F811
    uri = f"test+tcp://127.0.0.1:{libvirtd.port}/default"
    keeper = libvirt.open(uri)  # the test driver's /default state lives while one is open
    store = await Store.open(tmp_path / "audit.db")
    backends = []
    try:
        assert domstate(uri) == "running"
        uuid = virsh(uri, "domuuid", GUEST).stdout.strip()
        assert len(uuid) == 36
        with pf.backfilled_prometheus(TwoHosts(guest_uuid=uuid)) as prometheus:
            settings, _ = load_settings(write_config(tmp_path, prometheus.url, uri))
            name, context = resolve_context(settings, None)
            backends = build_backends(context, read_only=context.read_only)
            (backend,) = backends
            assert isinstance(backend, HostActions)
            fleet = Fleet(name, backends, timeout_s=60)
            snapshot = await fleet.poll_once()
            vms = {vm.name: vm for vm in snapshot.vms}
            assert set(vms) == {GUEST, FAR}
            guest, far = vms[GUEST], vms[FAR]
            assert (guest.id, guest.host, guest.backend) == (uuid, "h1", "prom")
            assert (far.host, far.backend) == ("h2", "prom")

            dispatcher = Dispatcher(fleet.backends, audit=store, context=name, read_only=False)

            async def run(action: str, vm_name: str = GUEST, **params: object) -> Outcome:
                spec = actions.get(action)
                vm = vms[vm_name]
                return await dispatcher.run(Request(
                    action, Target(vm.backend, vm.id, vm.name),
                    actions.prepare_params(spec, params), confirmed=True, typed_name=vm.name,
                    origin="test"))

            for action, params, state in [("vm.suspend", {}, "paused"),
                                          ("vm.resume", {}, "running"),
                                          ("vm.shutdown", {"timeout_s": 20}, "shut off"),
                                          ("vm.start", {}, "running")]:
                outcome = await run(action, **params)
                assert outcome.ok, (action, outcome.error)
                assert domstate(uri) == state, action

            refused = await run("vm.suspend", FAR)
            assert not refused.ok and refused.error is not None
            assert refused.error.kind is Code.NOT_SUPPORTED
            assert "host 'h2' has no libvirt URI" in str(refused.error)
            assert "host_uris.h2" in refused.error.cause

            entries = list(reversed(await store.audit(limit=10)))
            assert [(e.action, e.target_name, e.status.value) for e in entries] == [
                ("vm.suspend", GUEST, "ok"), ("vm.resume", GUEST, "ok"),
                ("vm.shutdown", GUEST, "ok"), ("vm.start", GUEST, "ok"),
                ("vm.suspend", FAR, "failed")]
            why = entries[-1]
            assert why.error_code == Code.NOT_SUPPORTED.code
            assert "host 'h2' has no libvirt URI" in why.error_message
            assert "host_uris.h2" in why.error_cause and "'prom'" in why.error_cause

            # A read-only context opens the host read-only: even a direct call cannot act.
            (watching,) = build_backends(context, read_only=True)
            backends.append(watching)
            await watching.vms()
            with pytest.raises(NovaError) as info:
                await watching.suspend(uuid)
            assert info.value.kind is Code.PERMISSION_DENIED
            assert domstate(uri) == "running"
    finally:
        for backend in backends:
            await backend.close()
        await store.close()
        keeper.close()
