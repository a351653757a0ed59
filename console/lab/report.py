"""What `lab status` shows: each host's URI, ports, processes and running guests, and Prometheus.

Collecting is read-only (no lock, no state change) so it is safe while `lab up` runs.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from console.lab import deploy
from console.lab.procs import is_alive

if TYPE_CHECKING:
    from console.lab.lab import Lab


@dataclass(frozen=True)
class ProcStatus:
    pid: int
    alive: bool


@dataclass(frozen=True)
class HostStatus:
    name: str
    uri: str
    libvirt_port: int
    ssh_port: int
    exporter_port: int
    migration_ports: tuple[int, int]
    procs: dict[str, ProcStatus]
    """By role: holder (namespace), virtlogd, libvirtd, sshd, exporter."""
    guests_running: int | None
    """None when libvirtd does not answer."""


@dataclass(frozen=True)
class LabStatus:
    root: str
    up: bool
    hosts: list[HostStatus]
    prometheus_url: str
    prometheus_pid: int | None
    prometheus_alive: bool
    config_path: str | None
    accel: str | None
    """'kvm' or 'qemu' (emulation)."""
    bastion_port: int | None = None
    bastion_alive: bool = False
    ssh_config: str | None = None
    """The ssh client config `lab up` wrote (hosts behind the bastion), and its text."""
    ssh_config_text: str = ""


def _guests_running(uri: str) -> int | None:
    try:
        conn = deploy.connect(uri, attempts=1)
    except deploy.libvirt.libvirtError:
        return None
    try:
        return deploy.running_count(conn)
    finally:
        conn.close()


def collect(lab: Lab) -> LabStatus:
    st = lab.state()
    hosts = []
    for hs in sorted(st.hosts.values(), key=lambda h: h.index):
        layout = lab.layout.host(hs.index)
        procs = {role: ProcStatus(p.pid, is_alive(p)) for role, p in hs.procs.items()}
        libvirtd_ok = "libvirtd" in procs and procs["libvirtd"].alive
        hosts.append(HostStatus(
            name=layout.name, uri=layout.uri, libvirt_port=layout.libvirt_port,
            ssh_port=layout.ssh_port, exporter_port=layout.exporter_port,
            migration_ports=layout.migration_ports, procs=procs,
            guests_running=_guests_running(layout.uri) if libvirtd_ok else None,
        ))
    prom = st.prometheus
    bastion = st.bastion
    ssh_config = lab.ssh_config if lab.ssh_config.exists() else None
    return LabStatus(
        root=str(lab.layout.root), up=bool(st.hosts), hosts=hosts,
        prometheus_url=lab.prometheus_url, prometheus_pid=prom.pid if prom else None,
        prometheus_alive=bool(prom and is_alive(prom)), config_path=st.config_path,
        accel=st.accel,
        bastion_port=lab.bastion.ssh_port if bastion else None,
        bastion_alive=bool(bastion and "sshd" in bastion.procs and is_alive(bastion.procs["sshd"])),
        ssh_config=str(ssh_config) if ssh_config else None,
        ssh_config_text=ssh_config.read_text() if ssh_config else "",
    )


def as_json(status: LabStatus) -> str:
    return json.dumps(dataclasses.asdict(status), indent=2)


def _host_line(h: HostStatus) -> str:
    procs = " ".join(f"{role}={p.pid}{'' if p.alive else '(dead)'}"
                     for role, p in h.procs.items())
    guests = "unreachable" if h.guests_running is None else f"{h.guests_running} running"
    low, high = h.migration_ports
    return (f"{h.name:<9} {h.uri}  ssh:{h.ssh_port} exporter:{h.exporter_port} "
            f"migration:{low}-{high}  guests: {guests}\n          {procs}")


def as_text(status: LabStatus) -> str:
    if not status.up:
        return f"lab is down (root {status.root})"
    mode = {"kvm": "KVM", "qemu": "QEMU emulation (KVM did not boot the guest)"}
    lines = [f"lab root {status.root}  guests run with {mode.get(status.accel or '', '?')}"]
    lines += [_host_line(h) for h in status.hosts]
    prom_state = "up" if status.prometheus_alive else "DOWN"
    lines.append(f"prometheus {status.prometheus_url}  pid={status.prometheus_pid} {prom_state}")
    if status.config_path:
        lines.append(f"context 'lab' in {status.config_path}  (novacron --context lab)")
        if status.prometheus_url:
            lines.append("context 'lab-prom': inventory from Prometheus, libvirt only to act  "
                         "(novacron --context lab-prom)")
    if status.bastion_port is not None:
        state = "up" if status.bastion_alive else "DOWN"
        lines.append(f"bastion labbastion 127.0.0.1:{status.bastion_port} {state}")
    if status.ssh_config:
        if status.config_path:
            lines.append("context 'lab-ssh': every host through the bastion, asyncssh  "
                         "(novacron --context lab-ssh)")
        lines.append(f"ssh config {status.ssh_config}:")
        lines += ["    " + line for line in status.ssh_config_text.splitlines()]
    return "\n".join(lines)
