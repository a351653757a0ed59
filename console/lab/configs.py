"""Configuration files for one lab host's daemons and for the lab's Prometheus.

Pure text builders (unit-tested): what makes the hosts independent lives here — a distinct
`host_uuid`, TCP port and migration port range per host — so a migration between two lab
hosts is a real migration to "another machine" as far as libvirt can tell.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from console.lab.layout import HostLayout


def libvirtd_conf(host: HostLayout) -> str:
    """TCP on loopback without auth: acceptable only because nothing leaves 127.0.0.1."""
    return "\n".join([
        "# Written by `novacron lab up`; removed by `novacron lab down`.",
        "listen_tls = 0",
        "listen_tcp = 1",
        'listen_addr = "127.0.0.1"',
        f'tcp_port = "{host.libvirt_port}"',
        'auth_tcp = "none"',
        f'host_uuid = "{host.host_uuid}"',
        'log_outputs = "3:file:/var/log/libvirt/libvirtd.log 3:stderr"',
        "",
    ])


def qemu_conf(host: HostLayout) -> str:
    """Root-run QEMU without cgroups or labels: several daemons share one kernel here.

    cgroups are off because two daemons on one machine would compete for the same
    `machine.slice` scope names during a migration (same guest name on both ends).
    """
    low, high = host.migration_ports
    return "\n".join([
        "# Written by `novacron lab up`.",
        'user = "root"',
        'group = "root"',
        'security_driver = "none"',
        "dynamic_ownership = 0",
        "remember_owner = 0",
        "cgroup_controllers = [ ]",
        f"migration_port_min = {low}",
        f"migration_port_max = {high}",
        'stdio_handler = "logd"',
        "",
    ])


def virtlogd_conf() -> str:
    return 'log_outputs = "3:file:/var/log/libvirt/virtlogd.log 3:stderr"\n'


def sshd_config(host: HostLayout, authorized_keys: str) -> str:
    """Key-only root login on loopback, so `qemu+ssh://` URIs can be tried against the lab."""
    return "\n".join([
        "# Written by `novacron lab up`.",
        f"Port {host.ssh_port}",
        "ListenAddress 127.0.0.1",
        f"HostKey {host.sshd_dir / 'ssh_host_ed25519_key'}",
        f"AuthorizedKeysFile {authorized_keys}",
        "PidFile /run/sshd-lab.pid",
        "UsePAM no",
        "StrictModes no",
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "Subsystem sftp internal-sftp",
        "",
    ])


def prometheus_yml(hosts: Iterable[HostLayout]) -> str:
    """JSON is valid YAML: no YAML writer needed.

    `instance` is set to the lab host's name, the same name the `lab` context gives the
    libvirt backend, so metrics join the inventory without a mapping table.
    """
    targets = [
        {"targets": [f"127.0.0.1:{h.exporter_port}"],
         "labels": {"instance": h.name, "host": h.name, "lab": "novacron"}}
        for h in hosts
    ]
    config = {
        "global": {"scrape_interval": "2s", "evaluation_interval": "2s", "scrape_timeout": "2s"},
        "scrape_configs": [{"job_name": "libvirt", "static_configs": targets}],
    }
    return json.dumps(config, indent=2) + "\n"
