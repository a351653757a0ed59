"""The `vsphere` config entry: what an operator writes, and the mistakes refused with a fix.
A password in the config is refused without ever being echoed (not in the error, not in the
file/line report)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from backends import registry
from backends.vsphere.source import VsphereSource, split_host
from console.config import ConfigError, load_settings


def write(tmp_path: Path, entry: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f"""
[contexts.vc]

[[contexts.vc.backends]]
kind = "vsphere"
name = "vc-fra"
{entry}
""", encoding="utf-8")
    return path


def test_the_kind_is_registered_with_a_valid_example() -> None:
    kind = registry.kind("vsphere")
    assert kind.config is VsphereSource
    example = kind.config(**kind.example)
    assert example.verify_tls and example.ca_file is None
    assert (example.user_env, example.password_env) == ("VSPHERE_USER", "VSPHERE_PASSWORD")
    assert example.serves_metrics and example.lists_inventory


def test_a_full_entry_loads(tmp_path: Path) -> None:
    settings, _ = load_settings(write(tmp_path, f"""host = "vc-fra.example.com:8443"
credentials_file = "{tmp_path}/netrc"
ca_file = "{tmp_path}/ca.pem"
datacenters = ["DC0", "Lab/DC1"]"""))
    source = settings.contexts["vc"].backends[0]
    assert isinstance(source, VsphereSource)
    assert source.address == ("vc-fra.example.com", 8443)
    assert source.datacenters == ("DC0", "Lab/DC1")


def test_a_password_in_the_config_is_refused_and_never_echoed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(write(tmp_path, 'host = "vc"\npassword = "hunter2-secret"'))
    text = str(refused.value)
    assert "hunter2-secret" not in text
    assert "never stored in the NovaCron config" in text and "VSPHERE_PASSWORD" in text
    assert f"{tmp_path / 'config.toml'}:8" in text  # the line of the key


@pytest.mark.parametrize("host", ["https://vc.example.com", "vc.example.com/sdk", "vc:99999", "a b"])
def test_a_host_must_be_host_and_port(host: str) -> None:
    with pytest.raises(ValidationError) as refused:
        VsphereSource(name="vc", host=host)
    assert "host[:port]" in str(refused.value) or "out of range" in str(refused.value)


def test_host_forms() -> None:
    assert split_host("vc.example.com") == ("vc.example.com", 443)
    assert split_host("10.0.0.5:8443") == ("10.0.0.5", 8443)
    assert split_host("[2001:db8::1]:443") == ("2001:db8::1", 443)


def test_a_ca_file_without_verification_is_a_contradiction() -> None:
    with pytest.raises(ValidationError) as refused:
        VsphereSource(name="vc", host="vc", verify_tls=False, ca_file=Path("/etc/ca.pem"))
    assert "verify_tls" in str(refused.value)
