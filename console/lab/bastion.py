"""The lab's bastion: one more namespace (its own hostname and /run) running only sshd.

The `lab-ssh` context reaches every lab host through it, with asyncssh, the lab's ssh config
and known_hosts (`console.lab.ssh_access`): stop the bastion and every host of that context
goes stale, as in a data centre whose jump host is down. Its processes are recorded in the
lab state like a host's, and `lab down` stops exactly those.
"""

from __future__ import annotations

import shlex
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from console.lab.layout import SSH_PORT_BASE
from console.lab.namespace import is_private, members, ns_id, nsenter
from console.lab.procs import (
    Proc,
    is_alive,
    port_open,
    signal_proc,
    spawn,
    start_time_of,
    stop,
    wait_port,
)
from console.lab.state import HostState

NAME = "labbastion"


@dataclass(frozen=True, slots=True)
class BastionLayout:
    """Where the bastion lives: port SSH_PORT_BASE + offset (the hosts use + 1, + 2 …)."""

    root: Path
    port_offset: int = 0

    @property
    def name(self) -> str:
        return NAME

    @property
    def ssh_port(self) -> int:
        return SSH_PORT_BASE + self.port_offset

    @property
    def state_dir(self) -> Path:
        return self.root / "bastion"

    @property
    def sshd_dir(self) -> Path:
        return self.state_dir / "sshd"

    @property
    def host_key(self) -> Path:
        return self.sshd_dir / "ssh_host_ed25519_key"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "daemon-logs"


def sshd_config(bastion: BastionLayout, authorized_keys: Path) -> str:
    """A jump host: key-only, forwarding allowed, no shell needed."""
    return "\n".join([
        "# Written by `novacron lab up`: the lab's bastion.",
        f"Port {bastion.ssh_port}",
        "ListenAddress 127.0.0.1",
        f"HostKey {bastion.host_key}",
        f"AuthorizedKeysFile {authorized_keys}",
        "PidFile /run/sshd-bastion.pid",
        "UsePAM no",
        "StrictModes no",
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "AllowTcpForwarding yes",
        "MaxStartups 100",
        "",
    ])


def _setup_script(expect_mnt: str, expect_uts: str) -> str:
    return "\n".join([
        "set -e",
        f'[ "$(readlink /proc/self/ns/mnt)" = {shlex.quote(expect_mnt)} ] || exit 97',
        f'[ "$(readlink /proc/self/ns/uts)" = {shlex.quote(expect_uts)} ] || exit 97',
        "mount --make-rprivate /",
        f"hostname {NAME}",
        "mount -t tmpfs -o mode=0755,size=8m novacron-lab-bastion-run /run",
        "mkdir -p /run/sshd",
        "",
    ])


def _start_holder(bastion: BastionLayout, timeout: float = 10.0) -> Proc:
    argv = ["unshare", "--mount", "--uts", "--propagation", "private", "--",
            "bash", "-c", f"exec -a novacron-lab-{NAME} sleep infinity"]
    holder = spawn(argv, bastion.logs_dir / "holder.log")
    deadline = time.monotonic() + timeout
    while not is_private(holder):
        if not is_alive(holder) or time.monotonic() > deadline:
            stop(holder)
            raise RuntimeError(f"{NAME}: unshare did not create a namespace")
        time.sleep(0.02)
    mnt, uts = ns_id(holder.pid, "mnt"), ns_id(holder.pid, "uts")
    if mnt is None or uts is None:
        raise RuntimeError(f"{NAME}: namespace holder {holder.pid} vanished")
    subprocess.run(nsenter(holder, ["sh", "-c", _setup_script(mnt, uts)]), check=True,
                   capture_output=True, text=True)
    return holder


def start(bastion: BastionLayout, authorized_keys: Path, hs: HostState) -> None:
    """Start whatever of the bastion is not running (idempotent)."""
    bastion.sshd_dir.mkdir(parents=True, exist_ok=True)
    if not bastion.host_key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                        f"{NAME} host key", "-f", str(bastion.host_key)],
                       check=True, capture_output=True)
    config = bastion.sshd_dir / "sshd_config"
    config.write_text(sshd_config(bastion, authorized_keys))
    holder = hs.procs.get("holder")
    if holder is None or not is_alive(holder):
        stop_bastion(hs)
        hs.procs = {"holder": _start_holder(bastion)}
        hs.mounts = ["/run"]
    sshd = hs.procs.get("sshd")
    if sshd is not None and is_alive(sshd):
        return
    if port_open(bastion.ssh_port):
        raise RuntimeError(f"port {bastion.ssh_port} for the lab bastion is taken by another process")
    log = bastion.logs_dir / "sshd.log"
    proc = spawn(nsenter(hs.procs["holder"], ["/usr/sbin/sshd", "-D", "-e", "-f", str(config.resolve())]),
                 log)
    hs.procs["sshd"] = proc
    wait_port(bastion.ssh_port, proc, 10, f"{NAME} sshd", log)


def stop_bastion(hs: HostState) -> None:
    """Stop the recorded sshd, every session it forked (they live in its namespace), then the
    namespace holder."""
    sshd = hs.procs.get("sshd")
    if sshd is not None:
        signal_proc(sshd, signal.SIGCONT)  # a paused bastion (tests) must be able to exit
        stop(sshd)
    holder = hs.procs.get("holder")
    if holder is not None and is_alive(holder):
        for proc in _sessions(holder):
            signal_proc(proc, signal.SIGCONT)
            stop(proc)
        stop(holder)
    hs.procs = {}
    hs.mounts = []


def signal_all(hs: HostState, sig: int) -> None:
    """Signal the bastion's sshd and its sessions (SIGSTOP: a hung bastion; SIGCONT)."""
    holder = hs.procs.get("holder")
    if holder is None or not is_alive(holder):
        return
    for proc in _sessions(holder):
        signal_proc(proc, sig)


def _sessions(holder: Proc) -> list[Proc]:
    found = []
    for pid in members(holder):
        started = start_time_of(pid)
        if started is not None:
            found.append(Proc(pid, started))
    return found
