"""Bring one lab host's daemons up inside its namespace, restart them, and take them down.

Order matters: virtlogd before libvirtd (QEMU's console logs go through it), libvirtd before
the exporter (it connects per scrape, but starting later avoids a scrape error at boot).
Every process is recorded in the host's `HostState` as soon as it starts, so a failure half
way still leaves `lab down` a complete list.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from console.lab import configs, namespace
from console.lab.layout import HostLayout, LabLayout
from console.lab.procs import Proc, is_alive, port_open, spawn, start_time_of, stop, wait_port
from console.lab.state import HostState

ROLES = ("holder", "virtlogd", "libvirtd", "sshd", "exporter")
"""Start order; `stop_host` goes in reverse."""

Record = Callable[[], None]


def ensure_keypair(key: Path, comment: str) -> None:
    if not key.exists():
        key.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment,
                        "-f", str(key)], check=True, capture_output=True)


def write_files(host: HostLayout, lab: LabLayout) -> None:
    """Per-host state dirs (bind-mount sources) and daemon configs; idempotent."""
    for source in host.bind_sources().values():
        source.mkdir(parents=True, exist_ok=True)
    (host.state_dir / "log" / "qemu").mkdir(parents=True, exist_ok=True)
    host.logs_dir.mkdir(parents=True, exist_ok=True)
    (host.etc_dir / "libvirtd.conf").write_text(configs.libvirtd_conf(host))
    (host.etc_dir / "qemu.conf").write_text(configs.qemu_conf(host))
    (host.etc_dir / "virtlogd.conf").write_text(configs.virtlogd_conf())
    ensure_keypair(host.sshd_dir / "ssh_host_ed25519_key", f"{host.name} host key")
    (host.sshd_dir / "sshd_config").write_text(configs.sshd_config(host, str(lab.authorized_keys)))


def _wait_file(holder: Proc, path: str, proc: Proc, what: str, log: Path) -> None:
    deadline = time.monotonic() + 15
    while not Path(f"/proc/{holder.pid}/root{path}").exists():
        if not is_alive(proc):
            raise RuntimeError(f"{what} exited at start; see {log}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not create {path}; see {log}")
        time.sleep(0.05)


def _argv(role: str, host: HostLayout) -> list[str]:
    return {
        "virtlogd": ["/usr/sbin/virtlogd"],
        "libvirtd": ["/usr/sbin/libvirtd", "--listen"],
        "sshd": ["/usr/sbin/sshd", "-D", "-e", "-f", str(host.sshd_dir / "sshd_config")],
        "exporter": ["/usr/bin/prometheus-libvirt-exporter",
                     f"--web.listen-address=127.0.0.1:{host.exporter_port}",
                     "--libvirt.uri=qemu:///system"],
    }[role]


def start_daemon(role: str, host: HostLayout, hs: HostState) -> Proc:
    """Start one daemon in the host's namespace and wait until it serves."""
    holder = hs.procs["holder"]
    log = host.logs_dir / f"{role}.log"
    proc = spawn(namespace.nsenter(holder, _argv(role, host)), log)
    hs.procs[role] = proc
    if role == "virtlogd":
        _wait_file(holder, "/run/libvirt/virtlogd-sock", proc, "virtlogd", log)
    elif role == "libvirtd":
        wait_port(host.libvirt_port, proc, 30, f"{host.name} libvirtd", log)
    elif role == "sshd":
        wait_port(host.ssh_port, proc, 10, f"{host.name} sshd", log)
    elif role == "exporter":
        wait_port(host.exporter_port, proc, 10, f"{host.name} exporter", log)
    return proc


def _port_of(role: str, host: HostLayout) -> int | None:
    return {"libvirtd": host.libvirt_port, "sshd": host.ssh_port,
            "exporter": host.exporter_port}.get(role)


def start_host(host: HostLayout, lab: LabLayout, hs: HostState, record: Record) -> None:
    """Start whatever of this host is not running; leave what runs alone (idempotent `up`)."""
    write_files(host, lab)
    holder = hs.procs.get("holder")
    if holder is None or not is_alive(holder):
        stop_host(host, hs)  # leftovers of a namespace whose holder died
        hs.procs = {"holder": namespace.start_holder(host)}
        record()
        namespace.setup(hs.procs["holder"], host)
        hs.mounts = namespace.mounts_made(host)
        record()
    for role in ROLES[1:]:
        proc = hs.procs.get(role)
        if proc is not None and is_alive(proc):
            continue
        port = _port_of(role, host)
        if port is not None and port_open(port):
            raise RuntimeError(f"port {port} for {host.name} {role} is taken by another process")
        start_daemon(role, host, hs)
        record()


def stop_host(host: HostLayout, hs: HostState) -> None:
    """Stop recorded daemons, then any process left in the namespace (guests' QEMU), unmount.

    Callers destroy guests through libvirt first; the namespace sweep is for a libvirtd that
    was already dead and left QEMU processes behind.
    """
    for role in reversed(ROLES[1:]):
        proc = hs.procs.get(role)
        if proc is not None:
            stop(proc)
    holder = hs.procs.get("holder")
    if holder is not None and is_alive(holder):
        for pid in namespace.members(holder):
            started = start_time_of(pid)
            if started is not None:
                stop(Proc(pid, started))
        namespace.unmount_all(holder, host)
        stop(holder)
    hs.procs = {}
    hs.mounts = []
