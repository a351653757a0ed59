"""`RevokedHostKeys` from ssh config, against real sshd servers: a host key listed in the file
(OpenSSH's text format) is refused as revoked (NOVA-2006) even though known_hosts trusts it,
before any login; a binary KRL or a missing file is a configuration error (NOVA-1001) naming
the file, never an ignored revocation list."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from console.errors import Code, NovaError
from tests.integration.sshd_fixture import GUEST, SshLab, keygen, sshlab

__all__ = ["sshlab"]  # the fixture, used by name

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


async def hosts_error(lab: SshLab, host: str, extra: str) -> NovaError:
    backend = lab.backend(host, lab.config(extra=extra))
    try:
        with pytest.raises(NovaError) as caught:
            await backend.hosts()
        return caught.value
    finally:
        await backend.close()


async def test_listed_key_is_refused_as_revoked(sshlab: SshLab) -> None:
    lab = sshlab
    kvm1 = lab.hypervisors["kvm1"]
    other = keygen(lab.root / "unrelated_key", "some other revoked key")
    revoked = lab.root / "revoked_keys"
    revoked.write_text("# retired after the 2026 incident\n"
                       + other.with_suffix(".pub").read_text()
                       + kvm1.host_key.with_suffix(".pub").read_text())
    extra = f"Host kvm1 kvm2\n    RevokedHostKeys {revoked}\n"
    logins = kvm1.logins()
    err = await hosts_error(lab, "kvm1", extra)  # known_hosts trusts every real key
    assert err.kind is Code.HOST_KEY_REVOKED
    assert f"kvm1 (127.0.0.1 port {kvm1.port}) offered {kvm1.fingerprint}" in str(err)
    assert str(revoked) in str(err)
    assert kvm1.logins() == logins

    # kvm2's key is not in the list: same config, it works.
    backend = lab.backend("kvm2", lab.config(extra=extra))
    try:
        assert [vm.name for vm in await backend.vms()] == [GUEST]
    finally:
        await backend.close()


async def test_revoked_bastion_key_stops_every_host_behind_it(sshlab: SshLab) -> None:
    lab = sshlab
    revoked = lab.root / "revoked_bastion"
    revoked.write_text(lab.bastion.host_key.with_suffix(".pub").read_text())
    logins = lab.bastion.logins()
    err = await hosts_error(lab, "kvm2", f"Host *\n    RevokedHostKeys {revoked}\n")
    assert err.kind is Code.HOST_KEY_REVOKED
    assert f"bastion (127.0.0.1 port {lab.bastion.port}) offered {lab.bastion.fingerprint}" in str(err)
    assert lab.bastion.logins() == logins


def make_krl(krl: Path, public_key: Path) -> Path:
    """A real KRL, made by OpenSSH's ssh-keygen, revoking `public_key`."""
    subprocess.run(["ssh-keygen", "-k", "-f", str(krl), str(public_key)], check=True,
                   capture_output=True)
    return krl


async def test_binary_krl_is_refused_as_unsupported(sshlab: SshLab) -> None:
    lab = sshlab
    krl = make_krl(lab.root / "revoked.krl", lab.hypervisors["kvm1"].host_key.with_suffix(".pub"))
    logins = lab.bastion.logins()
    err = await hosts_error(lab, "kvm1", f"Host kvm1\n    RevokedHostKeys {krl}\n")
    assert err.kind is Code.CONFIG_INVALID
    assert f"RevokedHostKeys {krl}" in str(err) and "binary KRL" in str(err)
    assert lab.bastion.logins() == logins  # refused before connecting anywhere


async def test_missing_revocation_file_is_refused(sshlab: SshLab) -> None:
    lab = sshlab
    missing = lab.root / "no-such-revoked-file"
    err = await hosts_error(lab, "kvm1", f"Host kvm1\n    RevokedHostKeys {missing}\n")
    assert err.kind is Code.CONFIG_INVALID
    assert f"RevokedHostKeys {missing}" in str(err) and "no such file" in str(err)
