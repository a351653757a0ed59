"""A small libvirt test-driver fleet for the action tests, written to a temporary directory.

The test driver (`test:///path/host.xml`) is real libvirt: the same API, the same read-only
enforcement, the same errors. Each connection gets its own copy of the file's state, so a
test reads the state back through the backend's own connection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

TAGS_NS = "https://novacron.dev/xmlns/tags/1"
RUNNING, PAUSED, SHUTOFF = 1, 3, 5


@dataclass(frozen=True)
class FakeVM:
    name: str
    uuid: str
    state: int = RUNNING
    tags: tuple[str, ...] = ()
    snapshots: tuple[str, ...] = ()
    disks: tuple[str, ...] = field(default=())


def _xml_text(text: str) -> str:
    """XML 1.0 cannot carry C0 controls even as references: libvirt would refuse the file."""
    return escape(text)


def domain_xml(vm: FakeVM) -> str:
    tags = "".join(f"<tag>{_xml_text(t)}</tag>" for t in vm.tags)
    disks = "".join(f"<disk type='file' device='disk'><source file='{escape(d)}'/>"
                    f"<target dev='vd{chr(97 + i)}' bus='virtio'/></disk>"
                    for i, d in enumerate(vm.disks))
    inner = (f"<name>{_xml_text(vm.name)}</name><uuid>{vm.uuid}</uuid>"
             "<memory unit='MiB'>512</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os>")
    snaps = "".join(
        f"<test:domainsnapshot><name>{escape(s)}</name><state>running</state>"
        f"<creationTime>{1700000000 + i}</creationTime><memory snapshot='internal'/>"
        f"<domain type='test'>{inner}</domain><active>{1 if i == len(vm.snapshots) - 1 else 0}"
        "</active></test:domainsnapshot>"
        for i, s in enumerate(vm.snapshots))
    return (f"<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>"
            f"{inner}<metadata><nova:tags xmlns:nova='{TAGS_NS}'>{tags}</nova:tags></metadata>"
            f"<devices>{disks}</devices><test:runstate>{vm.state}</test:runstate>{snaps}</domain>")


def host_xml(vms: list[FakeVM]) -> str:
    return ("<?xml version='1.0'?><node><cpu><mhz>2000</mhz><model>test</model><active>8</active>"
            "<total>8</total><nodes>1</nodes><sockets>1</sockets><cores>4</cores>"
            "<threads>2</threads></cpu><memory>16777216</memory>"
            + "".join(domain_xml(vm) for vm in vms) + "</node>")


def write_host(directory: Path, name: str, vms: list[FakeVM]) -> str:
    """Write the host file; return its test-driver URI."""
    path = directory / f"{name}.xml"
    path.write_text(host_xml(vms), encoding="utf-8")
    return f"test://{path}"


def write_config(path: Path, context: str, hosts: dict[str, str], *, read_only: bool) -> Path:
    lines = [f'default_context = "{context}"', f"[contexts.{context}]",
             f"read_only = {'true' if read_only else 'false'}", "poll_interval_s = 1.0"]
    for name, uri in hosts.items():
        lines += [f"[[contexts.{context}.backends]]", 'kind = "libvirt"', f'name = "{name}"',
                  f'uri = "{uri}"']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


STANDARD = [
    FakeVM("vm-run", "11111111-0000-0000-0000-000000000001", RUNNING,
           ("env=test",), ("before-upgrade",)),
    FakeVM("vm-off", "11111111-0000-0000-0000-000000000002", SHUTOFF, ("env=test",)),
    FakeVM("vm-paused", "11111111-0000-0000-0000-000000000003", PAUSED, ("env=test",)),
    FakeVM("vm-two", "11111111-0000-0000-0000-000000000004", RUNNING, ("env=test",)),
]
