"""Pure pieces of the SSH transport: the tunnelled libvirt URI, /proc parsing, backoff."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from backends.libvirt.source import LibvirtSource
from backends.libvirt.tunnel import tunnelled_uri
from backends.ssh.connection import BACKOFF_MAX_S, backoff_s
from backends.ssh.facts import parse
from console.errors import Code, NovaError
from console.models import Host
from screens.rows import host_detail, host_key_trouble


@pytest.mark.parametrize(("uri", "expected"), [
    ("qemu+tls://kvm-fra-01/system", "qemu+unix:///system?socket=/run/x/1.sock"),
    ("qemu+tcp://127.0.0.1:16511/system", "qemu+unix:///system?socket=/run/x/1.sock"),
    ("qemu:///system", "qemu+unix:///system?socket=/run/x/1.sock"),
    ("test:///default", "test+unix:///default?socket=/run/x/1.sock"),
])
def test_the_tunnelled_uri_keeps_driver_and_path(uri: str, expected: str) -> None:
    assert tunnelled_uri(uri, "/run/x/1.sock") == expected


def test_facts_from_this_machines_proc() -> None:
    facts = parse(*(Path(p).read_bytes() for p in ("/proc/loadavg", "/proc/meminfo", "/proc/uptime")))
    assert facts.memory_total_bytes >= facts.memory_available_bytes > 0
    assert facts.uptime_s > 0 and facts.load_1m >= 0


def test_facts_from_known_text() -> None:
    facts = parse(b"0.52 0.40 0.31 2/345 6789\n",
                  b"MemTotal:       16384000 kB\nMemFree:  100 kB\nMemAvailable:    8192000 kB\n",
                  b"12345.67 23456.78\n")
    assert (facts.load_1m, facts.load_5m, facts.load_15m) == (0.52, 0.40, 0.31)
    assert facts.memory_total_bytes == 16384000 * 1024
    assert facts.memory_available_bytes == 8192000 * 1024
    assert facts.uptime_s == 12345.67


def test_facts_refuse_an_empty_read() -> None:
    """An SFTP read of a /proc file without a size gives b'': that must not read as zeros."""
    with pytest.raises(ValueError):
        parse(b"", b"", b"")


def test_backoff_doubles_up_to_the_cap() -> None:
    assert 0.8 <= backoff_s(1) <= 1.0
    assert 3.2 <= backoff_s(3) <= 4.0
    assert backoff_s(50) <= BACKOFF_MAX_S


def test_a_libvirt_source_over_ssh_needs_its_alias() -> None:
    with pytest.raises(ValidationError, match="needs ssh_host"):
        LibvirtSource(name="kvm", uri="qemu:///system", transport="ssh")
    with pytest.raises(ValidationError, match="only used with"):
        LibvirtSource(name="kvm", uri="qemu:///system", ssh_host="kvm")
    ok = LibvirtSource(name="kvm", uri="qemu+tls://kvm/system", transport="ssh", ssh_host="kvm")
    assert ok.libvirt_socket == "/var/run/libvirt/libvirt-sock"


def test_a_refused_host_key_is_said_on_the_hosts_row_and_detail() -> None:
    error = str(NovaError(Code.HOST_KEY_CHANGED, "kvm1 (10.0.0.1 port 22) offered SHA256:new; "
                          "known_hosts has SHA256:old (~/.ssh/known_hosts)"))
    refused = Host(id="kvm1", name="kvm1", backend="kvm1", stale=True, error=error)
    assert host_key_trouble(refused) == "host key changed"
    assert host_detail(refused).startswith("kvm1: NOVA-2005: Host key changed: kvm1 (10.0.0.1")
    down = Host(id="kvm2", name="kvm2", backend="kvm2", stale=True,
                error=str(NovaError(Code.HOST_UNREACHABLE, "ssh to kvm2", "connection refused")))
    assert host_key_trouble(down) == ""
    up = Host(id="kvm3", name="kvm3", backend="kvm3", load_1m=0.5, load_5m=0.25, load_15m=0.125,
              memory_available_bytes=8 << 30, uptime_s=90061)
    assert host_detail(up) == "kvm3  load 0.50 0.25 0.12  8 GiB available  up 1d  (its /proc, over SSH)"
    assert host_detail(Host(id="d", name="d", backend="d")) == ""
