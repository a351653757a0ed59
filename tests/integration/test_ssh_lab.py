"""The lab through its bastion (`lab-ssh`): inventory, a lifecycle action and a live migration
made by the console over asyncssh (bastion → host sshd → libvirt socket), each checked with
`virsh` on the hosts' own connections; a stopped bastion makes every host stale, and they come
back by themselves. `lab up` writes and prints the ssh config; OpenSSH's client accepts it too.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from typing import Any

import pytest

from backends import registry
from console.config import load_settings
from console.errors import NovaError
from console.lab.lab import Lab
from console.lab.report import as_text
from tests.integration.lab_fixture import guest_names, lab, lab_session, virsh

__all__ = ["lab", "lab_session"]  # fixtures, used by name

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def ssh_backends(lab: Lab) -> dict[str, Any]:
    """The `lab-ssh` context's libvirt sources, opened through the registry like the app."""
    settings, _ = load_settings(lab.config_path())
    sources = [s for s in settings.contexts["lab-ssh"].backends if s.kind == "libvirt"]
    return {s.name: registry.kind(s.kind).open(s, read_only=False) for s in sources}


def bastion_logins(lab: Lab) -> int:
    log = lab.bastion.logs_dir / "sshd.log"
    return log.read_text(errors="replace").count("Accepted publickey") if log.exists() else 0


def test_lab_up_writes_the_ssh_context_and_prints_its_config(lab: Lab) -> None:
    settings, _ = load_settings(lab.config_path())
    sources = [s for s in settings.contexts["lab-ssh"].backends if s.kind == "libvirt"]
    assert [(s.name, s.uri, s.transport, s.ssh_host, s.ssh_config) for s in sources] == [
        (h.name, h.uri, "ssh", h.name, str(lab.ssh_config)) for h in lab.hosts()]
    text = as_text(lab.status())
    assert f"ssh config {lab.ssh_config}:" in text and "ProxyJump lab-bastion" in text
    assert f"bastion labbastion 127.0.0.1:{lab.bastion.ssh_port} up" in text
    before = bastion_logins(lab)
    out = subprocess.run(["ssh", "-F", str(lab.ssh_config), "-o", "BatchMode=yes", "labhost2",
                          "hostname"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "labhost2"
    assert bastion_logins(lab) == before + 1  # OpenSSH went through the bastion too


async def test_inventory_action_and_migration_through_the_bastion(lab: Lab) -> None:
    backends = ssh_backends(lab)
    hosts = {h.name: h for h in lab.hosts()}
    before = bastion_logins(lab)
    try:
        for name, backend in backends.items():
            listed = sorted(vm.name for vm in await backend.vms())
            assert listed == sorted(guest_names(hosts[name].uri, all_states=True)), name
            (host,) = await backend.hosts()
            assert host.uptime_s and host.load_1m is not None  # /proc over SFTP

        source, target = backends["labhost1"], backends["labhost2"]
        vm = next(v for v in await source.vms() if v.state.value == "running")
        await source.suspend(vm.id)
        assert virsh(hosts["labhost1"].uri, "domstate", vm.name).stdout.strip() == "paused"
        await source.resume(vm.id)
        assert virsh(hosts["labhost1"].uri, "domstate", vm.name).stdout.strip() == "running"

        started = time.monotonic()
        await source.migrate_to(vm.id, target="labhost2", target_uri=target.uri)
        print(f"\nmigrated {vm.name} labhost1 -> labhost2 over the lab-ssh context in "
              f"{time.monotonic() - started:.1f} s")
        assert virsh(hosts["labhost2"].uri, "domstate", vm.name).stdout.strip() == "running"
        assert vm.name not in guest_names(hosts["labhost1"].uri, all_states=True)
        assert vm.name in [v.name for v in await target.vms()]
    finally:
        for backend in backends.values():
            await backend.close()
    # one connection to the bastion carried the three hosts, the action and the migration
    assert bastion_logins(lab) == before + 1


POLL_TIMEOUT_S = 10.0
"""The sources' own timeout (a first poll connects two SSH hops and opens libvirt)."""
errors: list[str] = []


async def _poll(backend: Any) -> bool:
    try:
        async with asyncio.timeout(POLL_TIMEOUT_S):
            await backend.hosts()
        return True
    except (NovaError, TimeoutError) as exc:
        errors.append(f"{backend.name}: {exc!r}")
        return False


async def test_stopped_bastion_makes_every_host_stale_then_they_return(lab: Lab) -> None:
    backends = ssh_backends(lab)
    try:
        assert all(await asyncio.gather(*(_poll(b) for b in backends.values()))), errors
        lab.pause_bastion()
        stopped = time.monotonic()
        try:
            while any(await asyncio.gather(*(_poll(b) for b in backends.values()))):
                assert time.monotonic() - stopped < 60, "hosts never went stale"
            stale_after = time.monotonic() - stopped
        finally:
            lab.continue_bastion()
        resumed = time.monotonic()
        while not all(await asyncio.gather(*(_poll(b) for b in backends.values()))):
            assert time.monotonic() - resumed < 90, "hosts never came back"
            await asyncio.sleep(0.5)
        print(f"\nlab bastion SIGSTOP: all {len(backends)} hosts stale after {stale_after:.1f} s; "
              f"back {time.monotonic() - resumed:.1f} s after SIGCONT")
    finally:
        for backend in backends.values():
            await backend.close()
