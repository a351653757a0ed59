"""Accepting an unknown host key from the hosts screen, against real sshd servers.

`K` on a host shown as "host key unknown" opens a dialog with the alias, address:port, key
type and offered fingerprint; typing the alias writes the key to the config's known_hosts,
the audit log has the row, and the host's VMs appear at the next poll. Read-only refuses it
(audited, nothing written); a changed key is refused (audited, both fingerprints named, the
ssh-keygen command to run), never written.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from console.actions.dispatcher import Dispatcher
from console.app import NovaApp
from console.errors import Code
from console.fleet.polling import Fleet
from console.store import Store
from screens.confirm import TypeNameScreen
from screens.host_keys import RefusedKeyScreen
from screens.hosts import HostsScreen
from tests import settle, wait_for
from tests.integration.sshd_fixture import GUEST, SshLab, fingerprint, keygen, public_key, sshlab

__all__ = ["sshlab"]  # the fixture, used by name

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]


def table_text(screen: HostsScreen) -> str:
    table = screen.table
    return "\n".join(table.render_line(y).text for y in range(table.size.height))


def static_text(screen: object, selector: str) -> str:
    return str(screen.query_one(selector).content)  # type: ignore[attr-defined]


async def open_app(lab: SshLab, tmp_path: Path, known_hosts: str, *, read_only: bool = False,
                   ) -> tuple[NovaApp, Store, Path]:
    config = lab.config(known_hosts=known_hosts)
    backends = [lab.backend("kvm1", config, timeout_s=5, read_only=read_only)]
    fleet = Fleet("ssh", backends, interval_s=1.0, timeout_s=5.0)
    store = await Store.open(tmp_path / "audit.db")
    dispatcher = Dispatcher(fleet.backends, audit=store, context="ssh", read_only=read_only,
                            poke=fleet.poke)
    return NovaApp(fleet, read_only=read_only, dispatcher=dispatcher), store, config


async def to_kvm1(pilot, app: NovaApp, trouble: str) -> HostsScreen:  # type: ignore[no-untyped-def]
    await pilot.press("2")
    screen = app.screen
    assert isinstance(screen, HostsScreen)
    await wait_for(pilot, lambda: f"kvm1 (host key {trouble})" in table_text(screen), 60,
                   f"kvm1 shown as host key {trouble}")
    await pilot.press("home")
    return screen


async def test_unknown_key_accepted_by_typing_the_alias(sshlab: SshLab, tmp_path: Path) -> None:
    lab = sshlab
    kvm1 = lab.hypervisors["kvm1"]
    app, store, config = await open_app(lab, tmp_path, lab.known_hosts_line(lab.bastion))
    known_hosts = config.parent / "known_hosts"
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await to_kvm1(pilot, app, "unknown")
            assert app.snapshot is not None and not app.snapshot.vms
            await pilot.press("K")
            await wait_for(pilot, lambda: isinstance(app.screen, TypeNameScreen), 10, "dialog")
            body = static_text(app.screen, "#body")
            assert "kvm1" in body and f"127.0.0.1:{kvm1.port}" in body
            assert "ssh-ed25519" in body and kvm1.fingerprint in body
            assert str(known_hosts) in body
            await pilot.press(*"kvm2", "enter")  # the wrong alias: nothing happens
            await wait_for(pilot, lambda: "not the name" in static_text(app.screen, "#wrong"),
                           10, "the wrong alias said")
            assert isinstance(app.screen, TypeNameScreen)
            assert public_key(kvm1.host_key) not in known_hosts.read_text()
            app.screen.query_one("#typed").value = ""  # type: ignore[attr-defined]
            await pilot.press(*"kvm1", "enter")
            await wait_for(pilot, lambda: public_key(kvm1.host_key) in known_hosts.read_text(),
                           10, "the key in known_hosts")
            assert f"[127.0.0.1]:{kvm1.port} {public_key(kvm1.host_key)}" in known_hosts.read_text()
            await wait_for(pilot, lambda: app.snapshot is not None and any(
                vm.name == GUEST and vm.backend == "kvm1" and not vm.stale
                for vm in app.snapshot.vms), 60, "kvm1's VMs after the key was accepted")
            assert "host key" not in table_text(app.screen)  # type: ignore[arg-type]
        rows = [e for e in await store.audit() if e.action == "host.accept_key"]
        assert [(r.status.value, r.target_kind, r.target_name) for r in rows] == \
            [("ok", "host", "kvm1")]
        assert kvm1.fingerprint in rows[0].params_json
    finally:
        await store.close()


async def test_read_only_refuses_and_audits(sshlab: SshLab, tmp_path: Path) -> None:
    lab = sshlab
    app, store, config = await open_app(lab, tmp_path, lab.known_hosts_line(lab.bastion),
                                        read_only=True)
    before = (config.parent / "known_hosts").read_text()
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            screen = await to_kvm1(pilot, app, "unknown")
            await pilot.press("K")
            await settle(pilot, app)
            assert app.screen is screen  # no dialog: it would be refused whatever was typed
            await pilot.press("t")  # a root shell is refused too
            await settle(pilot, app)
        rows = [e for e in await store.audit() if e.action.startswith("host.")]
        assert sorted((r.action, r.status.value, r.error_code) for r in rows) == \
            [("host.accept_key", "refused", Code.READ_ONLY.code),
             ("host.shell", "refused", Code.READ_ONLY.code)]
        assert (config.parent / "known_hosts").read_text() == before
    finally:
        await store.close()


async def test_changed_key_is_refused_naming_both_fingerprints(sshlab: SshLab,
                                                               tmp_path: Path) -> None:
    lab = sshlab
    kvm1 = lab.hypervisors["kvm1"]
    impostor = keygen(lab.root / "impostor_key", "what known_hosts believes")
    known = lab.known_hosts_line(lab.bastion) + lab.known_hosts_line(kvm1, key=impostor)
    app, store, config = await open_app(lab, tmp_path, known)
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await to_kvm1(pilot, app, "changed")
            await pilot.press("K")
            await wait_for(pilot, lambda: isinstance(app.screen, RefusedKeyScreen), 10,
                           "the refusal dialog")
            body = static_text(app.screen, "#body")
            assert kvm1.fingerprint in body and fingerprint(impostor) in body
            assert (f"ssh-keygen -R '[127.0.0.1]:{kvm1.port}' -f "
                    f"{config.parent / 'known_hosts'}") in body
            await pilot.press("escape")
            await settle(pilot, app)
            assert isinstance(app.screen, HostsScreen)
        rows = [e for e in await store.audit() if e.action == "host.accept_key"]
        assert [(r.status.value, r.error_code) for r in rows] == \
            [("refused", Code.HOST_KEY_CHANGED.code)]
        assert fingerprint(impostor) in rows[0].error_message
        assert (config.parent / "known_hosts").read_text() == known
    finally:
        await store.close()
