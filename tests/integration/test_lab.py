"""The lab, for real: hosts with running guests, Prometheus scraping them, a live migration
between two lab hosts with virsh, a libvirtd killed and restarted, and a `down` that leaves
no process, mount, directory or context behind.

The tests run in file order on one session lab; `test_down_leaves_nothing_behind` comes last
here (a later module asking for `lab` gets it brought up again).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from console.config import load_settings
from console.lab import namespace, prometheus
from console.lab.lab import Lab
from console.lab.procs import Proc, in_process_table, port_open, start_time_of

try:
    from tests.integration.lab_fixture import (
        HOSTS,
        VMS_PER_HOST,
        guest_names,
        lab,
        lab_session,
        virsh,
    )
except ImportError:  # pytest's default import mode puts tests/integration itself on sys.path
    from lab_fixture import (  # type: ignore[no-redef]
        HOSTS,
        VMS_PER_HOST,
        guest_names,
        lab,
        lab_session,
        virsh,
    )

__all__ = ["lab", "lab_session"]  # fixtures, used by name

pytestmark = pytest.mark.integration
T = TypeVar("T")


def _eventually(check: Callable[[], T], timeout: float = 30.0, every: float = 0.5) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(every)


def test_up_gives_hosts_with_running_guests(lab: Lab) -> None:
    hosts = lab.hosts()
    assert [h.name for h in hosts] == [f"labhost{i}" for i in range(1, HOSTS + 1)]
    everyone: list[str] = []
    for h in hosts:
        names = guest_names(h.uri)
        assert len(names) == VMS_PER_HOST, (h.name, names)
        everyone += names
        assert virsh(h.uri, "hostname").stdout.strip() == h.name
    assert len(set(everyone)) == HOSTS * VMS_PER_HOST
    # Everything happened inside the hosts' namespaces, nothing on the machine itself.
    assert not socket.gethostname().startswith("labhost")
    assert "novacron-lab-run" not in Path("/proc/self/mountinfo").read_text()
    assert str(lab.layout.root) not in Path("/proc/self/mountinfo").read_text()
    uuids = {virsh(h.uri, "capabilities").stdout.split("<uuid>")[1].split("<")[0] for h in hosts}
    assert uuids == {h.host_uuid for h in hosts}  # distinct: migration needs "another host"


def test_up_writes_the_lab_context(lab: Lab) -> None:
    settings, _ = load_settings(lab.config_path())
    backends = settings.contexts["lab"].backends
    libvirt = [(b.name, b.uri) for b in backends if b.kind == "libvirt"]
    assert libvirt == [(h.name, h.uri) for h in lab.hosts()]
    assert [b.url for b in backends if b.kind == "prometheus"] == [lab.prometheus_url]


def test_up_again_changes_nothing(lab: Lab) -> None:
    before = lab.state()
    config_before = lab.config_path().read_text()
    lab.up(HOSTS, VMS_PER_HOST)
    after = lab.state()
    assert after.hosts == before.hosts and after.prometheus == before.prometheus
    assert lab.config_path().read_text() == config_before
    counts = [len(guest_names(h.uri, all_states=True)) for h in lab.hosts()]
    assert sum(counts) == HOSTS * VMS_PER_HOST


def test_every_host_has_its_own_sshd(lab: Lab) -> None:
    for h in lab.hosts():
        out = subprocess.run(
            ["ssh", "-i", str(lab.layout.ssh_key), "-p", str(h.ssh_port), "-o", "BatchMode=yes",
             "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
             "root@127.0.0.1", "hostname; virsh -c qemu:///system list --name | grep -c ."],
            capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert out.stdout.split() == [h.name, str(VMS_PER_HOST)]


def test_prometheus_scrapes_every_exporter(lab: Lab) -> None:
    def all_up() -> list[dict]:
        result = prometheus.query(lab.prometheus_url, "libvirt_up == 1")
        return result if len(result) == HOSTS else []

    up = _eventually(all_up)
    assert sorted(r["metric"]["instance"] for r in up) == [h.name for h in lab.hosts()]
    total = _eventually(lambda: prometheus.query(lab.prometheus_url,
                                                 "sum(libvirt_domains_number)"))
    assert float(total[0]["value"][1]) == HOSTS * VMS_PER_HOST


def test_live_migration_from_host1_to_host2(lab: Lab) -> None:
    source, target = lab.host(1), lab.host(2)
    name = guest_names(source.uri)[0]
    started = time.monotonic()
    out = virsh(source.uri, "migrate", "--live", "--p2p", "--persistent", "--undefinesource",
                name, target.uri, "--migrateuri", target.migrate_uri, timeout=120)
    elapsed = time.monotonic() - started
    assert out.returncode == 0, out.stderr
    print(f"virsh migrate {name} labhost1 -> labhost2: {elapsed:.2f}s")
    assert virsh(target.uri, "domstate", name).stdout.strip() == "running"
    assert name not in guest_names(source.uri, all_states=True)
    assert virsh(target.uri, "dumpxml", "--inactive", name).returncode == 0  # persistent


def test_killed_libvirtd_restarts_with_its_guests(lab: Lab) -> None:
    h = lab.host(3)
    before = sorted(guest_names(h.uri))
    lab.kill_libvirtd(3)
    assert virsh(h.uri, "list", timeout=10).returncode != 0
    lab.restart_libvirtd(3)
    assert sorted(guest_names(h.uri)) == before


def test_stopped_libvirtd_hangs_until_continued(lab: Lab) -> None:
    h = lab.host(2)
    lab.pause_libvirtd(2)
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            virsh(h.uri, "list", timeout=3)
    finally:
        lab.continue_libvirtd(2)
    assert guest_names(h.uri)


def _mount_points() -> list[str]:
    return [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]


def test_down_leaves_nothing_behind(lab: Lab) -> None:
    st = lab.state()
    recorded = [p for hs in st.hosts.values() for p in hs.procs.values()] + [st.prometheus]
    in_namespaces = [Proc(pid, start_time_of(pid) or -1) for hs in st.hosts.values()
                     for pid in namespace.members(hs.procs["holder"])]
    assert len(in_namespaces) >= HOSTS * (VMS_PER_HOST + 4) - 1  # daemons + QEMU guests
    ports = [port for h in (lab.layout.host(i) for i in range(1, HOSTS + 1))
             for port in (h.libvirt_port, h.ssh_port, h.exporter_port)]
    lab.down()
    # At once, with no waiting: `down` returns only when the lab is gone (not even a zombie
    # left in the process table, nothing listening), so an immediate `up` cannot collide.
    listed = [p for p in recorded + in_namespaces if p is not None and in_process_table(p)]
    assert listed == [], f"still in the process table: {listed}"
    listening = [p for p in [*ports, lab.layout.prometheus_port] if port_open(p)]
    assert listening == [], f"still listening: {listening}"
    root = str(lab.layout.root)
    assert not lab.layout.root.exists()
    assert not [m for m in _mount_points() if m == root or m.startswith(root + "/")]
    # Mount points it had to create are gone, unless another lab (e.g. a user's) mounts them.
    assert not [d for d in st.created_dirs
                if os.path.exists(d) and not namespace.mounted_in_any_namespace(d)]
    assert not lab.config_path().exists()  # the lab created it, so the lab removed it
    for h in (lab.layout.host(i) for i in range(1, HOSTS + 1)):
        assert virsh(h.uri, "list", timeout=10).returncode != 0  # nothing listens any more
