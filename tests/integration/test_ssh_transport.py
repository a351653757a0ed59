"""libvirt through an SSH bastion, against real OpenSSH servers the tests start.

The console → asyncssh → bastion sshd → hypervisor sshd → forwarded unix socket → libvirtd.
What the console did is checked with `virsh` on the hypervisor's own (TCP) connection, and
that it went through the bastion is checked in the servers' logs.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from backends.libvirt.tunnel import SshTunnel
from tests.integration.sshd_fixture import GUEST, SshLab, sshlab, virsh

__all__ = ["sshlab"]  # the fixture, used by name

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def domstate(lab: SshLab, host: str) -> str:
    out = virsh(lab.libvirtds[host].tcp_uri, "domstate", GUEST)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


async def test_inventory_and_an_action_through_the_bastion(sshlab: SshLab) -> None:
    lab = sshlab
    config = lab.config()
    bastion_logins = lab.bastion.logins()
    kvm1_logins = lab.hypervisors["kvm1"].logins()
    backend = lab.backend("kvm1", config)
    try:
        hosts = await backend.hosts()
        vms = await backend.vms()
        assert [h.name for h in hosts] == ["kvm1"]
        assert hosts[0].cpus > 0 and not hosts[0].error
        assert [vm.name for vm in vms] == [GUEST]
        # Host facts came over SFTP from the host's /proc (this machine's: same kernel).
        assert hosts[0].uptime_s is not None and hosts[0].uptime_s > 0
        assert hosts[0].load_1m is not None
        assert hosts[0].memory_available_bytes and hosts[0].memory_available_bytes > 0

        assert domstate(lab, "kvm1") == "running"
        await backend.suspend(vms[0].id)
        assert domstate(lab, "kvm1") == "paused"
        await backend.resume(vms[0].id)
        assert domstate(lab, "kvm1") == "running"
    finally:
        await backend.close()
    # One login on the bastion, one on the hypervisor: polls, the action and the facts all
    # shared the one SSH connection per hop.
    assert lab.bastion.logins() == bastion_logins + 1
    assert lab.hypervisors["kvm1"].logins() == kvm1_logins + 1


async def test_two_hosts_share_one_bastion_connection(sshlab: SshLab) -> None:
    lab = sshlab
    config = lab.config()
    before = lab.bastion.logins()
    backends = [lab.backend(name, config) for name in ("kvm1", "kvm2")]
    try:
        for backend in backends:
            assert [vm.name for vm in await backend.vms()] == [GUEST]
        assert lab.bastion.logins() == before + 1
    finally:
        for backend in backends:
            await backend.close()


async def test_forwarded_socket_lives_in_a_private_directory_and_goes_on_close(sshlab: SshLab) -> None:
    lab = sshlab
    backend = lab.backend("kvm2", lab.config())
    await backend.vms()
    tunnel = backend.transport
    assert isinstance(tunnel, SshTunnel)
    local = Path(tunnel.local_uri("test:///default").split("socket=", 1)[1])
    assert kind_and_mode(local) == ("socket", None)
    assert kind_and_mode(local.parent) == ("dir", 0o700)
    await backend.close()
    await lab.wait_closed()
    assert kind_and_mode(local) == ("gone", None)


def kind_and_mode(path: Path) -> tuple[str, int | None]:
    if not path.exists():
        return "gone", None
    mode = path.stat().st_mode
    if stat.S_ISSOCK(mode):
        return "socket", None
    return ("dir" if stat.S_ISDIR(mode) else "file"), stat.S_IMODE(mode)


async def test_two_jump_hosts(sshlab: SshLab) -> None:
    """ProxyJump bastion,bastion: a chain of two hops before the host (the same server twice
    plays two bastions); each hop is opened by the console and checked against known_hosts."""
    lab = sshlab
    before = lab.bastion.logins()
    backend = lab.backend("kvm1", lab.config(jump_chain=("bastion", "bastion")))
    try:
        assert [vm.name for vm in await backend.vms()] == [GUEST]
    finally:
        await backend.close()
    assert lab.bastion.logins() == before + 2
