"""Where the vSphere credentials come from (environment or a netrc-style file the operator
points to) and how their absence or exposure is reported; the TLS context is always explicit."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from backends.vsphere.session import Endpoint, read_credentials, tls_context
from console.errors import Code, NovaError


def test_credentials_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VC_USER", "ops@vsphere.local")
    monkeypatch.setenv("VC_PASS", "s3cret")
    endpoint = Endpoint("vc", user_env="VC_USER", password_env="VC_PASS")
    assert read_credentials(endpoint) == ("ops@vsphere.local", "s3cret")


def test_missing_variables_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VSPHERE_USER", "ops")
    monkeypatch.delenv("VSPHERE_PASSWORD", raising=False)
    with pytest.raises(NovaError) as missing:
        read_credentials(Endpoint("vc"))
    assert missing.value.kind is Code.CONFIG_INVALID
    assert "VSPHERE_PASSWORD" in missing.value.cause and "VSPHERE_USER" not in missing.value.cause


def netrc(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "vsphere.netrc"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def test_credentials_file_by_host_port_then_host(tmp_path: Path) -> None:
    path = netrc(tmp_path, "machine vc:8443 login a password pa\nmachine other login b password pb\n"
                           "default login d password pd\n")
    assert read_credentials(Endpoint("vc", 8443, credentials_file=path)) == ("a", "pa")
    assert read_credentials(Endpoint("other", credentials_file=path)) == ("b", "pb")
    assert read_credentials(Endpoint("unlisted", credentials_file=path)) == ("d", "pd")


def test_a_credentials_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = netrc(tmp_path, "machine vc login a password pa\n", mode=0o644)
    with pytest.raises(NovaError) as refused:
        read_credentials(Endpoint("vc", credentials_file=path))
    assert refused.value.kind is Code.PERMISSION_DENIED and "chmod 600" in refused.value.cause


def test_a_credentials_file_without_the_host_says_what_to_write(tmp_path: Path) -> None:
    path = netrc(tmp_path, "machine elsewhere login a password pa\n")
    with pytest.raises(NovaError) as missing:
        read_credentials(Endpoint("vc", credentials_file=path))
    assert "machine vc" in missing.value.cause
    with pytest.raises(NovaError) as absent:
        read_credentials(Endpoint("vc", credentials_file=tmp_path / "nope"))
    assert "cannot read" in absent.value.cause


def test_tls_is_verified_unless_the_config_says_otherwise(tmp_path: Path) -> None:
    verified = tls_context(Endpoint("127.0.0.1"))
    assert verified.verify_mode is ssl.CERT_REQUIRED and verified.check_hostname
    assert tls_context(Endpoint("vc", verify_tls=False)).verify_mode is ssl.CERT_NONE
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate", encoding="utf-8")
    with pytest.raises(NovaError) as refused:
        tls_context(Endpoint("vc", ca_file=bad))
    assert refused.value.kind is Code.CONFIG_INVALID
