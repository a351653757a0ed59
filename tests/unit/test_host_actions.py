"""Acting on a Prometheus inventory's VMs through their hosts: the config keys and the wrapper.

The wrapper is exercised with a real inventory backend (libvirt's in-process test driver,
`test:///default`, whose running guest is `test`) standing in for Prometheus: what matters here
is the vm -> host bookkeeping, the error for a host without a URI and the read-only flag,
which reach a real libvirt connection. Against a real Prometheus and libvirtd, see
tests/integration/test_prometheus_actions.py.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import libvirt
import pytest

from backends.base import SupportsMigration, SupportsPower, SupportsSnapshots
from backends.libvirt.backend import LibvirtBackend
from backends.libvirt.events import silence_default_error_handler
from backends.prometheus.host_actions import HostActions
from backends.prometheus.source import PrometheusSource
from console.config import ConfigError, Context, load_settings
from console.errors import Code, NovaError
from console.fleet.sources import build_backends

pytestmark = pytest.mark.timeout(60)
silence_default_error_handler()

DEFAULT = "test:///default"
HOST = "h9"


def write(tmp_path: Path, source_keys: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text('[contexts.big]\n\n[[contexts.big.backends]]\nkind = "prometheus"\n'
                    f'url = "http://127.0.0.1:9090"\n{source_keys}\n', encoding="utf-8")
    return path


def config_error(tmp_path: Path, source_keys: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, source_keys))
    assert info.value.kind is Code.CONFIG_INVALID
    return str(info.value)


# -- config ------------------------------------------------------------------------------------


def test_template_and_map_load_and_the_map_wins(tmp_path: Path) -> None:
    settings, _ = load_settings(write(tmp_path, 'inventory = true\n'
                                      'host_uri = "qemu+ssh://ops@{host}/system"\n'
                                      'host_uris = { "kvm-2" = "qemu+tcp://10.0.0.2/system" }'))
    source = settings.contexts["big"].backends[0]
    assert isinstance(source, PrometheusSource)
    assert source.libvirt_uri("kvm-1") == "qemu+ssh://ops@kvm-1/system"
    assert source.libvirt_uri("kvm-2") == "qemu+tcp://10.0.0.2/system"
    only_map = source.model_copy(update={"host_uri": None})
    assert only_map.libvirt_uri("kvm-1") is None


def test_template_without_host_names_key_line_and_fix(tmp_path: Path) -> None:
    text = config_error(tmp_path, 'inventory = true\nhost_uri = "qemu+ssh://kvm-1/system"')
    assert "config.toml:7:" in text  # the line of host_uri
    assert "host_uri has no {host}" in text
    assert "qemu+ssh://{host}/system" in text and "host_uris" in text


def test_template_with_another_field_is_an_error(tmp_path: Path) -> None:
    text = config_error(tmp_path, 'inventory = true\nhost_uri = "qemu+ssh://{host}:{port}/system"')
    assert "host_uri has other fields ['port']" in text


def test_template_that_is_not_a_template_is_an_error(tmp_path: Path) -> None:
    text = config_error(tmp_path, 'inventory = true\nhost_uri = "qemu+ssh://{host/system"')
    assert "not a valid template" in text


@pytest.mark.parametrize("keys", [
    'host_uri = "qemu+tls://{host}/system?no_verify=1"',
    'host_uris = { "kvm-1" = "qemu+tls://kvm-1/system?pkipath=/x&no_verify=yes" }',
])
def test_no_verify_is_refused_like_a_libvirt_source(tmp_path: Path, keys: str) -> None:
    text = config_error(tmp_path, f"inventory = true\n{keys}")
    assert "NOVA-1004" in text  # the libvirt backend's own check, reused
    assert "no_verify disables TLS certificate checks" in text
    with pytest.raises(NovaError) as direct:  # what a libvirt source with that URI gets
        LibvirtBackend("kvm-1", "qemu+tls://kvm-1/system?no_verify=1")
    assert direct.value.kind is Code.URI_REFUSED


def test_host_uris_without_inventory_is_an_error(tmp_path: Path) -> None:
    text = config_error(tmp_path, 'host_uris = { "kvm-1" = "qemu:///system" }')
    assert "host_uris is only used with `inventory = true`" in text


# -- sources -----------------------------------------------------------------------------------


def test_build_backends_wraps_only_when_a_uri_is_configured() -> None:
    plain = PrometheusSource(name="prom", url="http://127.0.0.1:9", inventory=True)
    acting = plain.model_copy(update={"host_uris": {HOST: DEFAULT}})
    (unwrapped,) = build_backends(Context(backends=[plain]), read_only=False)
    assert not isinstance(unwrapped, (HostActions, SupportsPower))
    (wrapped,) = build_backends(Context(backends=[acting]), read_only=True)
    assert isinstance(wrapped, HostActions)
    assert wrapped.name == "prom" and wrapped.kind == "prometheus" and wrapped.read_only
    assert isinstance(wrapped, SupportsPower) and isinstance(wrapped, SupportsSnapshots)
    assert not isinstance(wrapped, SupportsMigration)


def test_host_actions_imports_no_ui() -> None:
    code = textwrap.dedent("""
        import sys
        import backends.prometheus.host_actions, console.fleet.sources
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("textual", "rich")))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# -- the wrapper -------------------------------------------------------------------------------


def wrapper(host_uris: dict[str, str], *, read_only: bool) -> HostActions:
    source = PrometheusSource(name="prom", url="http://127.0.0.1:9", inventory=True,
                              host_uris=host_uris)
    inventory = LibvirtBackend("prom", DEFAULT, read_only=True, host_name=HOST)
    return HostActions(inventory, source, read_only=read_only)


@pytest.fixture
def keeper() -> Iterator[libvirt.virConnect]:
    """A connection of our own: holds the test driver's state and reads it independently."""
    conn = libvirt.open(DEFAULT)
    yield conn
    dom = conn.lookupByName("test")
    if dom.state()[0] == libvirt.VIR_DOMAIN_PAUSED:
        dom.resume()
    conn.close()


async def guest_id(actions: HostActions) -> str:
    (vm,) = [vm for vm in await actions.vms() if vm.name == "test"]
    assert vm.host == HOST and actions.host_of(vm.id) == HOST
    return vm.id


async def test_a_host_without_uri_is_refused_naming_host_and_keys(
        keeper: libvirt.virConnect) -> None:
    actions = wrapper({"other-host": DEFAULT}, read_only=False)
    try:
        vm_id = await guest_id(actions)
        with pytest.raises(NovaError) as info:
            await actions.suspend(vm_id)
        err = info.value
        assert err.kind is Code.NOT_SUPPORTED
        assert err.detail == f"host '{HOST}' has no libvirt URI"
        assert f"host_uris.{HOST}" in err.cause and "host_uri" in err.cause
        assert "'prom'" in err.cause
        assert keeper.lookupByName("test").state()[0] == libvirt.VIR_DOMAIN_RUNNING
        with pytest.raises(NovaError) as unknown:
            await actions.start("no-such-vm")
        assert unknown.value.kind is Code.VM_NOT_FOUND
    finally:
        await actions.close()


async def test_actions_reach_the_host_and_read_only_passes_through(
        keeper: libvirt.virConnect) -> None:
    dom = keeper.lookupByName("test")
    writable = wrapper({HOST: DEFAULT}, read_only=False)
    read_only = wrapper({HOST: DEFAULT}, read_only=True)
    try:
        vm_id = await guest_id(writable)
        await writable.suspend(vm_id)
        assert dom.state()[0] == libvirt.VIR_DOMAIN_PAUSED
        assert [s.name for s in await writable.snapshots(vm_id)] == []

        await guest_id(read_only)
        with pytest.raises(NovaError) as info:
            await read_only.resume(vm_id)
        assert info.value.kind is Code.PERMISSION_DENIED
        assert "read only" in info.value.cause
        assert dom.state()[0] == libvirt.VIR_DOMAIN_PAUSED

        await writable.resume(vm_id)
        assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING
    finally:
        await writable.close()
        await read_only.close()


@pytest.mark.parametrize("host", ["", "evil/path", "kvm?no_verify=1", "user@kvm", "kvm 1"])
def test_a_host_name_a_uri_would_misread_is_refused(host: str) -> None:
    source = PrometheusSource(name="prom", url="http://127.0.0.1:9", inventory=True,
                              host_uri="qemu+ssh://{host}/system")
    actions = HostActions(LibvirtBackend("prom", DEFAULT, host_name=HOST), source, read_only=True)
    assert actions.uri_for("kvm-1.example:22") == "qemu+ssh://kvm-1.example:22/system"
    with pytest.raises(NovaError) as info:
        actions.uri_for(host)  # an empty host would make qemu+ssh:///system: this machine
    assert info.value.kind is Code.URI_REFUSED
