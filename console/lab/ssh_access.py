"""The lab's ssh client files: a known_hosts with every lab server's key, and an ssh config
in which each lab host is reached through the bastion (ProxyJump), as operators reach
hypervisors. The `lab-ssh` context points at this config; `lab up` prints it.

Pure text builders (unit-tested) plus one writer.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from console.lab.bastion import BastionLayout
from console.lab.layout import HostLayout

BASTION_ALIAS = "lab-bastion"
KEEPALIVE = (2, 3)
"""ServerAliveInterval 2, ServerAliveCountMax 3: a dead hop is dropped within about 8 s."""


def public_key(private_key: Path) -> str:
    """`ssh-ed25519 AAAA…` (no comment) of a key pair."""
    return " ".join(private_key.with_suffix(".pub").read_text().split()[:2])


def known_hosts_text(servers: Iterable[tuple[int, str]]) -> str:
    """One `[127.0.0.1]:PORT key` line per (port, public key)."""
    return "".join(f"[127.0.0.1]:{port} {key}\n" for port, key in servers)


def ssh_config_text(bastion: BastionLayout, hosts: Iterable[HostLayout], identity: Path,
                    known_hosts: Path) -> str:
    lines = ["# Written by `novacron lab up`; `novacron lab down` removes it.",
             f"# ssh -F {known_hosts.parent / 'config'} labhost1",
             "", f"Host {BASTION_ALIAS}", "    HostName 127.0.0.1", f"    Port {bastion.ssh_port}"]
    names = []
    for host in hosts:
        names.append(host.name)
        lines += ["", f"Host {host.name}", "    HostName 127.0.0.1", f"    Port {host.ssh_port}",
                  f"    ProxyJump {BASTION_ALIAS}"]
    lines += ["", f"Host {BASTION_ALIAS} {' '.join(names)}", "    User root",
              f"    IdentityFile {identity}", "    IdentitiesOnly yes", "    IdentityAgent none",
              f"    UserKnownHostsFile {known_hosts}", "    GlobalKnownHostsFile none",
              "    StrictHostKeyChecking yes", f"    ServerAliveInterval {KEEPALIVE[0]}",
              f"    ServerAliveCountMax {KEEPALIVE[1]}", "    ConnectTimeout 5", ""]
    return "\n".join(lines)


def write(ssh_dir: Path, bastion: BastionLayout, hosts: list[HostLayout], identity: Path) -> Path:
    """Write known_hosts and config into `ssh_dir`; returns the config's path."""
    known_hosts = ssh_dir / "known_hosts"
    servers = [(bastion.ssh_port, public_key(bastion.host_key))]
    servers += [(h.ssh_port, public_key(h.sshd_dir / "ssh_host_ed25519_key")) for h in hosts]
    known_hosts.write_text(known_hosts_text(servers))
    config = ssh_dir / "config"
    config.write_text(ssh_config_text(bastion, hosts, identity, known_hosts))
    return config
