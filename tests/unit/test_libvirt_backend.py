"""The libvirt backend against libvirt's own test driver (real libvirt API, no daemon).

The oracle for the demo hosts is the XML file itself, read here with ElementTree, so the test
checks what libvirt served against what the operator wrote, not the backend against itself.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from pathlib import Path

import libvirt
import pytest

from backends.libvirt.backend import LibvirtBackend
from backends.libvirt.events import silence_default_error_handler
from backends.libvirt.parse import TAGS_NS
from console import demo
from console.errors import Code, NovaError
from console.models import VMState

pytestmark = pytest.mark.timeout(60)
silence_default_error_handler()

RUNSTATE = {1: VMState.RUNNING, 3: VMState.PAUSED, 5: VMState.STOPPED, 6: VMState.CRASHED,
            7: VMState.SUSPENDED}
TEST_NS = "{http://libvirt.org/schemas/domain/test/1.0}"
GIB = 1024**3

SMALL = f"""<?xml version='1.0'?>
<node>
  <cpu><mhz>2400</mhz><model>Test CPU 9000</model><active>12</active><total>12</total>
       <nodes>1</nodes><sockets>1</sockets><cores>6</cores><threads>2</threads></cpu>
  <memory>33554432</memory>
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>web-01</name><uuid>aaaaaaaa-0000-0000-0000-000000000001</uuid>
    <metadata><nova:tags xmlns:nova='{TAGS_NS}'><tag>env=prod</tag><tag>role=web</tag></nova:tags></metadata>
    <memory unit='GiB'>4</memory><vcpu>2</vcpu><os><type arch='x86_64'>hvm</type></os>
    <devices><disk type='file' device='disk'><source file='/img/web-01.qcow2'/>
      <target dev='vda' bus='virtio'/></disk></devices>
    <test:runstate>1</test:runstate>
  </domain>
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>db-01</name><uuid>aaaaaaaa-0000-0000-0000-000000000002</uuid>
    <memory unit='MiB'>1536</memory><vcpu>6</vcpu><os><type arch='x86_64'>hvm</type></os>
    <test:runstate>5</test:runstate>
  </domain>
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>vm-&#x9b;31mred&#x202e;gpj.exe</name><uuid>aaaaaaaa-0000-0000-0000-000000000003</uuid>
    <metadata><nova:tags xmlns:nova='{TAGS_NS}'><tag>vm-[/]x</tag><tag>[@click=app.quit]</tag>
      <tag>osc&#x9d;52;c;AAAA&#x9c;</tag></nova:tags></metadata>
    <memory unit='MiB'>512</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os>
    <test:runstate>3</test:runstate>
  </domain>
</node>
"""


@pytest.fixture
def small_uri(tmp_path: Path) -> str:
    path = tmp_path / "small.xml"
    path.write_text(SMALL, encoding="utf-8")
    return f"test://{path}"


def expected_from_xml(path: Path) -> dict[str, dict[str, object]]:
    """What the demo file says about each domain, read independently of the backend."""
    root = ET.parse(path).getroot()
    out = {}
    for dom in root.findall("domain"):
        mem = dom.find("memory")
        assert mem is not None and mem.get("unit") == "MiB"
        tags = dom.find(f"./metadata/{{{TAGS_NS}}}tags")
        out[dom.findtext("name")] = {
            "vcpus": int(dom.findtext("vcpu") or 0),
            "memory": int(mem.text or 0) * 1024**2,
            "tags": tuple(t.text for t in tags) if tags is not None else (),
            "state": RUNSTATE[int(dom.findtext(f"{TEST_NS}runstate") or 1)],
        }
    return out


async def read(backend: LibvirtBackend):  # type: ignore[no-untyped-def]
    try:
        return await backend.hosts(), await backend.vms()
    finally:
        await backend.close()


async def test_small_host_fields(small_uri: str) -> None:
    hosts, vms = await read(LibvirtBackend("lab-a", small_uri, host_name="kvm-lab-a"))
    assert len(hosts) == 1
    host = hosts[0]
    assert (host.name, host.backend, host.uri) == ("kvm-lab-a", "lab-a", small_uri)
    assert host.cpus == 12
    assert host.memory_bytes == 32 * GIB
    assert host.cpu_model == "Test CPU 9000"
    assert host.hypervisor == "TEST"
    assert not host.stale

    by_name = {vm.name: vm for vm in vms}
    web, db = by_name["web-01"], by_name["db-01"]
    assert (web.state, web.vcpus, web.memory_bytes) == (VMState.RUNNING, 2, 4 * GIB)
    assert web.tags == ("env=prod", "role=web")
    assert [d.source for d in web.disks] == ["/img/web-01.qcow2"]
    assert (db.state, db.vcpus, db.memory_bytes, db.tags) == (VMState.STOPPED, 6, 1536 * 1024**2, ())
    assert web.id == "aaaaaaaa-0000-0000-0000-000000000001"
    assert web.key == "lab-a/aaaaaaaa-0000-0000-0000-000000000001"
    assert all(vm.host == "kvm-lab-a" and vm.backend == "lab-a" for vm in vms)


async def test_untrusted_names_and_tags_are_cleaned_at_ingestion(small_uri: str) -> None:
    """libvirt accepts C1 controls and bidi overrides in names; they must not come out raw."""
    _, vms = await read(LibvirtBackend("lab-a", small_uri))
    evil = next(vm for vm in vms if vm.id.endswith("3"))
    assert evil.name == "vm-\ufffd31mred\ufffdgpj.exe"
    assert evil.state is VMState.PAUSED
    # Markup-looking text is data, kept verbatim; the C1 OSC/ST around the payload are not.
    assert evil.tags == ("vm-[/]x", "[@click=app.quit]", "osc\ufffd52;c;AAAA\ufffd")
    for text in (evil.name, *evil.tags):
        assert not any(0x80 <= ord(c) <= 0x9F or c == "\u202e" for c in text)


@pytest.mark.parametrize("path", demo.host_files(), ids=lambda p: p.stem)
async def test_demo_host_matches_its_xml(path: Path) -> None:
    root = ET.parse(path).getroot()
    hosts, vms = await read(LibvirtBackend(path.stem, f"test://{path}"))
    host = hosts[0]
    assert host.cpus == int(root.findtext("./cpu/active") or 0)
    assert host.memory_bytes == int(root.findtext("memory") or 0) * 1024
    assert host.name == path.stem

    expected = expected_from_xml(path)
    assert len(vms) == len(expected)
    got = {vm.name: {"vcpus": vm.vcpus, "memory": vm.memory_bytes, "tags": vm.tags, "state": vm.state}
           for vm in vms}
    assert got == expected


async def test_demo_fleet_is_the_advertised_size() -> None:
    """The issue promises 4-6 hosts, ~60 VMs, mixed states."""
    files = demo.host_files()
    assert 4 <= len(files) <= 6
    states: set[VMState] = set()
    names: list[str] = []
    for path in files:
        _, vms = await read(LibvirtBackend(path.stem, f"test://{path}"))
        states |= {vm.state for vm in vms}
        names += [vm.name for vm in vms]
    assert len(names) == 60
    assert len(set(names)) == 60, "demo VM names must be unique across hosts"
    assert {VMState.RUNNING, VMState.STOPPED, VMState.PAUSED} <= states


@pytest.mark.parametrize("uri", [
    "qemu+tls://kvm1.example/system?no_verify=1",
    "qemu+tls://kvm1.example/system?pkipath=/x&no_verify=yes",
])
def test_no_verify_uri_is_refused(uri: str) -> None:
    with pytest.raises(NovaError) as info:
        LibvirtBackend("kvm1", uri)
    assert info.value.kind is Code.URI_REFUSED
    assert "NOVA-1004" in str(info.value)
    assert "no_verify" in str(info.value)


def test_no_verify_zero_is_accepted() -> None:
    backend = LibvirtBackend("kvm1", "qemu+tls://kvm1.example/system?no_verify=0")
    assert backend.uri.endswith("no_verify=0")
    backend._executor.shutdown(wait=False)


async def test_missing_test_file_is_a_backend_error_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "gone.xml"
    with pytest.raises(NovaError) as info:
        await read(LibvirtBackend("ghost", f"test://{missing}"))
    err = info.value
    assert err.kind is Code.BACKEND_ERROR
    assert err.detail == "ghost"
    assert str(missing) in err.cause


async def test_unreachable_daemon_is_host_unreachable() -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(NovaError) as info:
        await read(LibvirtBackend("far", f"test+tcp://127.0.0.1:{port}/x.xml", timeout_s=5))
    assert info.value.kind is Code.HOST_UNREACHABLE
    assert "NOVA-2001" in str(info.value)
    assert "refused" in info.value.cause.lower()


async def test_lookup_of_unknown_vm_maps_to_vm_not_found(small_uri: str) -> None:
    backend = LibvirtBackend("lab-a", small_uri)
    try:
        with pytest.raises(NovaError) as info:
            await backend._call(backend.domain, "no-such-vm")
        assert info.value.kind is Code.VM_NOT_FOUND
    finally:
        await backend.close()


async def test_lifecycle_event_wakes_the_watcher(small_uri: str) -> None:
    """A state change on the host calls the watcher before any poll would see it."""
    backend = LibvirtBackend("lab-a", small_uri)
    woke = asyncio.Event()
    backend.watch(woke.set)
    try:
        await backend.vms()  # opens the connection and registers the lifecycle callback
        assert not woke.is_set()
        await backend._call(lambda: backend.domain("web-01").suspend())
        await asyncio.wait_for(woke.wait(), 5)
        vms = {vm.name: vm for vm in await backend.vms()}
        assert vms["web-01"].state is VMState.PAUSED
    finally:
        await backend.close()


async def test_read_only_connection_still_lists(small_uri: str) -> None:
    backend = LibvirtBackend("lab-a", small_uri, read_only=True)
    try:
        assert len(await backend.vms()) == 3
        with pytest.raises(NovaError):
            await backend._call(lambda: backend.domain("web-01").suspend())
        assert (await backend._call(
            lambda: backend.domain("web-01").state()))[0] == libvirt.VIR_DOMAIN_RUNNING
    finally:
        await backend.close()
