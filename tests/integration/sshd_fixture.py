"""Real OpenSSH servers for tests: a bastion and two "hypervisors", each a private sshd.

Each sshd runs from an absolute config path (a relative one dies on SIGHUP) with its own host
key, key-only root login, `UsePAM no`, `StrictModes no`, on a free loopback port. Each
hypervisor has a libvirtd of its own (run as nobody, serving the test driver's shared
`/default` host on a unix socket and on TCP): over SSH the console forwards that unix socket,
the same thing it does on a real hypervisor; the TCP port is there for `virsh` to check what
the console did, and for the bench's direct baseline.

`SshLab.config(...)` writes an ssh client config + known_hosts of a test's choosing (a good
one, one with a changed key, …): connections are pooled by config file, so each test's file
gives it connections of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from backends import registry
from backends.ssh import loop as ssh_loop

SSHD = "/usr/sbin/sshd"
LIBVIRTD = shutil.which("libvirtd") or "/usr/sbin/libvirtd"
GUEST = "test"
"""The test driver's running guest in `/default`."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def keygen(path: Path, comment: str) -> Path:
    if not path.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                       check=True, capture_output=True)
    return path


def public_key(path: Path) -> str:
    """`ssh-ed25519 AAAA…` of a key pair (no comment)."""
    return " ".join(path.with_suffix(".pub").read_text().split()[:2])


def fingerprint(path: Path) -> str:
    out = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(path.with_suffix(".pub"))],
                         check=True, capture_output=True, text=True)
    return out.stdout.split()[1]


def descendants(pid: int) -> list[int]:
    """`pid` and every process under it (sshd forks a session process per connection)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


@dataclass
class Sshd:
    """One private sshd on 127.0.0.1."""

    name: str
    root: Path
    authorized_keys: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.dir = self.root / self.name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.host_key = keygen(self.dir / "ssh_host_ed25519_key", f"{self.name} host key")
        self.log = self.dir / "sshd.log"
        self.config = (self.dir / "sshd_config").resolve()
        self.config.write_text("\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {self.host_key}",
            f"AuthorizedKeysFile {self.authorized_keys}", f"PidFile {self.dir / 'sshd.pid'}",
            "UsePAM no", "StrictModes no", "PermitRootLogin prohibit-password",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "AllowTcpForwarding yes", "AllowStreamLocalForwarding yes",
            "Subsystem sftp internal-sftp", "LogLevel VERBOSE", "MaxStartups 200",
            "MaxSessions 200", "",
        ]))

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.host_key)

    def start(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # privilege separation dir
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.config)],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True)
        deadline = time.monotonic() + 10
        while not port_open(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sshd {self.name} did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.02)

    def signal_all(self, sig: int) -> None:
        """Signal the listener and every session process it forked."""
        if self.proc is None:
            return
        for pid in descendants(self.proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def pause(self) -> None:
        """SIGSTOP everything: ports stay open, nothing answers (a hung host)."""
        self.signal_all(signal.SIGSTOP)

    def resume(self) -> None:
        self.signal_all(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.signal_all(signal.SIGCONT)
        self.signal_all(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.signal_all(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def logins(self) -> int:
        """Successful logins so far (from sshd's VERBOSE log)."""
        return self.log.read_text(errors="replace").count("Accepted publickey")


@dataclass
class TestLibvirtd:
    """libvirtd as nobody, test driver, unix socket under `root`, TCP on a free port."""

    root: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    keeper: object = None

    @property
    def socket(self) -> str:
        return str(self.root / "run" / "libvirt-sock")

    @property
    def tcp_uri(self) -> str:
        return f"test+tcp://127.0.0.1:{self.port}/default"

    def start(self) -> None:
        import libvirt

        for sub in ("run", "home"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        (self.root / "libvirtd.conf").write_text(
            f'listen_tls = 0\nlisten_tcp = 1\ntcp_port = "{self.port}"\nlisten_addr = "127.0.0.1"\n'
            f'auth_tcp = "none"\nunix_sock_dir = "{self.root / "run"}"\n')
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(self.root / "home"),
               "XDG_RUNTIME_DIR": str(self.root / "run"),
               "XDG_CONFIG_HOME": str(self.root / "home/.config"),
               "XDG_CACHE_HOME": str(self.root / "home/.cache")}
        nobody = pwd.getpwnam("nobody")
        for path in (self.root, *self.root.rglob("*")):
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
        for parent in self.root.parents:
            if parent in (Path("/tmp"), Path("/")):
                break
            os.chmod(parent, os.stat(parent).st_mode | 0o711)
        command = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}",
                   "--clear-groups", LIBVIRTD, "--listen", "-f", str(self.root / "libvirtd.conf")]
        with (self.root / "libvirtd.log").open("ab") as log:
            self.proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + 20
        while not (port_open(self.port) and Path(self.socket).exists()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("libvirtd did not start: "
                                   + (self.root / "libvirtd.log").read_text()[-2000:])
            time.sleep(0.05)
        # The test driver's /default lives while a connection is open: hold one.
        self.keeper = libvirt.open(self.tcp_uri)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.keeper.close()  # type: ignore[attr-defined]
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None


def virsh(uri: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["virsh", "-c", uri, *args], capture_output=True, text=True, timeout=30)


@dataclass
class SshLab:
    """A bastion, hypervisors behind it, the client key, and config writers."""

    root: Path
    client_key: Path
    bastion: Sshd
    hypervisors: dict[str, Sshd]
    libvirtds: dict[str, TestLibvirtd]
    _configs: int = 0

    def backend(self, name: str, config: Path, *, read_only: bool = False,
                timeout_s: float = 10.0) -> Any:
        """A libvirt backend for hypervisor `name`, reached over SSH as a context would say it
        (`transport = "ssh"`), opened through the backend registry like any source."""
        kind = registry.kind("libvirt")
        source = kind.config(name=name, uri="test:///default", transport="ssh", ssh_host=name,
                             ssh_config=str(config), libvirt_socket=self.libvirtds[name].socket,
                             timeout_s=timeout_s)
        return kind.open(source, read_only=read_only)

    async def wait_closed(self) -> None:
        """Let the SSH loop finish what closing a backend scheduled there."""
        await ssh_loop.call(asyncio.sleep(0))

    def known_hosts_line(self, sshd: Sshd, key: Path | None = None, marker: str = "") -> str:
        prefix = f"{marker} " if marker else ""
        return f"{prefix}[127.0.0.1]:{sshd.port} {public_key(key or sshd.host_key)}\n"

    def config(self, *, known_hosts: str | None = None, extra: str = "",
               keepalive: tuple[int, int] = (1, 2), jump_chain: tuple[str, ...] = ("bastion",),
               ) -> Path:
        """A fresh ssh client config (and known_hosts) in its own directory.

        `known_hosts=None`: every server's real key. Hosts: `bastion`, each hypervisor by name
        (ProxyJump through `jump_chain`), and `<name>-direct` (no jump).
        """
        self._configs += 1
        where = self.root / f"client-{self._configs}"
        where.mkdir()
        if known_hosts is None:
            known_hosts = "".join(self.known_hosts_line(s)
                                  for s in (self.bastion, *self.hypervisors.values()))
        (where / "known_hosts").write_text(known_hosts)
        interval, count = keepalive
        lines = [extra, "Host *", "    User root", f"    IdentityFile {self.client_key}",
                 "    IdentitiesOnly yes", "    IdentityAgent none",
                 f"    UserKnownHostsFile {where / 'known_hosts'}",
                 "    GlobalKnownHostsFile none",
                 f"    ServerAliveInterval {interval}", f"    ServerAliveCountMax {count}",
                 "    ConnectTimeout 5", "",
                 "Host bastion", "    HostName 127.0.0.1", f"    Port {self.bastion.port}", ""]
        for name, sshd in self.hypervisors.items():
            lines += [f"Host {name}", "    HostName 127.0.0.1", f"    Port {sshd.port}",
                      f"    ProxyJump {','.join(jump_chain)}", "",
                      f"Host {name}-direct", "    HostName 127.0.0.1", f"    Port {sshd.port}", ""]
        path = where / "config"
        path.write_text("\n".join(lines))
        return path


def missing_requirements() -> str | None:
    if os.geteuid() != 0:
        return "needs root (sshd, libvirtd as nobody)"
    for tool in (SSHD, LIBVIRTD, shutil.which("virsh"), shutil.which("ssh-keygen")):
        if not tool or not Path(tool).exists():
            return f"missing {tool} (openssh-server, openssh-client, libvirt-daemon, libvirt-clients)"
    return None


@contextlib.contextmanager
def ssh_lab(root: Path, hypervisors: tuple[str, ...] = ("kvm1", "kvm2")) -> Iterator[SshLab]:
    """Start the servers; stop them all on exit."""
    root.mkdir(parents=True, exist_ok=True)
    client_key = keygen(root / "id_ed25519", "novacron test client")
    authorized = root / "authorized_keys"
    authorized.write_text(client_key.with_suffix(".pub").read_text())
    started: list[Sshd | TestLibvirtd] = []
    try:
        bastion = Sshd("bastion", root, authorized)
        bastion.start()
        started.append(bastion)
        hosts, daemons = {}, {}
        for name in hypervisors:
            daemon = TestLibvirtd(root / f"{name}-libvirtd")
            daemon.start()
            started.append(daemon)
            sshd = Sshd(name, root, authorized)
            sshd.start()
            started.append(sshd)
            hosts[name], daemons[name] = sshd, daemon
        yield SshLab(root, client_key, bastion, hosts, daemons)
    finally:
        for item in reversed(started):
            item.stop()


@pytest.fixture(scope="session")
def sshlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshLab]:
    """The bastion and two hypervisors for the whole session."""
    reason = missing_requirements()
    if reason:
        pytest.skip(reason)
    with ssh_lab(tmp_path_factory.mktemp("sshlab")) as lab:
        yield lab
