"""Host keys on every hop: unknown, changed and revoked keys are refused with the alias, the
address and the offered SHA256 fingerprint (and, for a changed key, the one on file), before
any login; configs that switch checking off are refused. Real sshd servers, real keys."""

from __future__ import annotations

import subprocess

import pytest

from console.errors import Code, NovaError
from tests.integration.sshd_fixture import GUEST, SshLab, fingerprint, keygen, sshlab

__all__ = ["sshlab"]  # the fixture, used by name

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


async def refusal(lab: SshLab, host: str, known_hosts: str | None = None, extra: str = "") -> NovaError:
    backend = lab.backend(host, lab.config(known_hosts=known_hosts, extra=extra))
    try:
        with pytest.raises(NovaError) as caught:
            await backend.hosts()
        return caught.value
    finally:
        await backend.close()


async def test_changed_key_names_both_fingerprints_and_logs_in_nowhere(sshlab: SshLab) -> None:
    lab = sshlab
    kvm1 = lab.hypervisors["kvm1"]
    impostor = keygen(lab.root / "impostor_key", "what known_hosts believes")
    known = (lab.known_hosts_line(lab.bastion) + lab.known_hosts_line(kvm1, key=impostor)
             + lab.known_hosts_line(lab.hypervisors["kvm2"]))
    logins = kvm1.logins()
    err = await refusal(lab, "kvm1", known)
    assert err.kind is Code.HOST_KEY_CHANGED
    text = str(err)
    assert "Host key changed: kvm1 (127.0.0.1 port" in text
    assert f"offered {kvm1.fingerprint}" in text
    assert f"known_hosts has {fingerprint(impostor)}" in text
    assert kvm1.logins() == logins  # refused before authenticating: nothing ran there

    # The other host, same config, same bastion, keeps working.
    other = lab.backend("kvm2", lab.config(known_hosts=known))
    try:
        assert [vm.name for vm in await other.vms()] == [GUEST]
    finally:
        await other.close()


async def test_unknown_key_names_the_offered_fingerprint(sshlab: SshLab) -> None:
    lab = sshlab
    kvm1 = lab.hypervisors["kvm1"]
    err = await refusal(lab, "kvm1", lab.known_hosts_line(lab.bastion))
    assert err.kind is Code.HOST_KEY_UNKNOWN
    assert "Host key unknown: kvm1 (127.0.0.1 port" in str(err)
    assert kvm1.fingerprint in str(err)


async def test_unknown_bastion_key_is_refused_at_the_bastion(sshlab: SshLab) -> None:
    lab = sshlab
    logins = lab.bastion.logins()
    err = await refusal(lab, "kvm1", lab.known_hosts_line(lab.hypervisors["kvm1"]))
    assert err.kind is Code.HOST_KEY_UNKNOWN
    assert "Host key unknown: bastion (127.0.0.1 port" in str(err)
    assert lab.bastion.fingerprint in str(err)
    assert lab.bastion.logins() == logins


@pytest.mark.parametrize("also_trusted", [True, False])
async def test_revoked_key_is_refused(sshlab: SshLab, also_trusted: bool) -> None:
    lab = sshlab
    kvm1 = lab.hypervisors["kvm1"]
    known = (lab.known_hosts_line(lab.bastion) + lab.known_hosts_line(kvm1, marker="@revoked")
             + (lab.known_hosts_line(kvm1) if also_trusted else ""))
    err = await refusal(lab, "kvm1", known)
    assert err.kind is Code.HOST_KEY_REVOKED
    assert f"Host key revoked: kvm1 (127.0.0.1 port {kvm1.port}) offered {kvm1.fingerprint}" in str(err)


@pytest.mark.parametrize("setting", ["StrictHostKeyChecking no", "UserKnownHostsFile /dev/null",
                                     "UserKnownHostsFile none"])
async def test_config_that_disables_checking_is_refused(sshlab: SshLab, setting: str) -> None:
    lab = sshlab
    logins = lab.bastion.logins()
    err = await refusal(lab, "kvm1", extra=f"Host kvm1 bastion\n    {setting}\n")
    assert err.kind is Code.CONFIG_INVALID
    assert setting.split()[0] in str(err) and "disables host key checking" in str(err)
    assert lab.bastion.logins() == logins  # refused before connecting anywhere


async def test_an_unknown_key_is_accepted_only_with_its_fingerprint(sshlab: SshLab) -> None:
    lab = sshlab
    kvm1 = lab.hypervisors["kvm1"]
    config = lab.config(known_hosts=lab.known_hosts_line(lab.bastion))
    backend = lab.backend("kvm1", config)
    try:
        with pytest.raises(NovaError):
            await backend.hosts()
        link = backend.transport.link
        refused = link.refused_key()
        assert (refused.hop, refused.verdict, refused.fingerprint) == ("kvm1", "Host key unknown",
                                                                       kvm1.fingerprint)
        with pytest.raises(NovaError) as wrong:
            await link.accept_key("SHA256:not-what-it-offered")
        assert wrong.value.kind is Code.NOT_CONFIRMED
        written = await link.accept_key(kvm1.fingerprint)
        assert written == str(config.parent / "known_hosts")
        assert openssh_finds(written, kvm1.port)  # OpenSSH's own tools read the line back
        assert [vm.name for vm in await backend.vms()] == [GUEST]
        assert link.refused_key() is None
    finally:
        await backend.close()


async def test_a_changed_key_cannot_be_accepted(sshlab: SshLab) -> None:
    lab = sshlab
    kvm1 = lab.hypervisors["kvm1"]
    impostor = keygen(lab.root / "impostor_key", "what known_hosts believes")
    config = lab.config(known_hosts=lab.known_hosts_line(lab.bastion)
                        + lab.known_hosts_line(kvm1, key=impostor))
    before = (config.parent / "known_hosts").read_text()
    backend = lab.backend("kvm1", config)
    try:
        with pytest.raises(NovaError):
            await backend.hosts()
        link = backend.transport.link
        refused = link.refused_key()
        assert refused.verdict == "Host key changed"
        assert refused.on_file == (fingerprint(impostor),)
        with pytest.raises(NovaError) as caught:
            await link.accept_key(kvm1.fingerprint)
        assert caught.value.kind is Code.NOT_CONFIRMED
        assert "only an unknown key" in str(caught.value)
        assert (config.parent / "known_hosts").read_text() == before
    finally:
        await backend.close()


def openssh_finds(known_hosts: str, port: int) -> bool:
    found = subprocess.run(["ssh-keygen", "-F", f"[127.0.0.1]:{port}", "-f", known_hosts],
                           capture_output=True, text=True)
    return found.returncode == 0 and "ssh-ed25519" in found.stdout
