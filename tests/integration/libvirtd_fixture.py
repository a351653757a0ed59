"""A real `libvirtd` for tests, private to the test, listening on a loopback TCP port.

It runs in its own mount namespace (`unshare -m`) with a tmpfs on `/run` and the test's own
directories bind-mounted over `/etc/libvirt`, `/var/lib/libvirt`, `/var/cache/libvirt` and
`/var/log/libvirt`, so it shares no socket, pid file or state with any other libvirtd on the
machine, and leaves nothing behind. No systemd is involved.

Serve a test-driver host file over real RPC with `daemon.test_uri(path)`
(`test+tcp://127.0.0.1:PORT/abs/path.xml`). `kill()` is a SIGKILL (a host that dies),
`start()` brings it back on the same port.

Usage::

    from libvirtd_fixture import libvirtd  # noqa: F401  (a pytest fixture)

    def test_x(libvirtd): uri = libvirtd.test_uri(path)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

LIBVIRTD = "/usr/sbin/libvirtd"
BIND_TARGETS = {"etc": "/etc/libvirt", "lib": "/var/lib/libvirt", "cache": "/var/cache/libvirt",
                "log": "/var/log/libvirt"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def missing_requirements() -> str | None:
    """Why a libvirtd cannot be started here (None: it can)."""
    if os.geteuid() != 0:
        return "needs root (mount namespace, libvirtd)"
    for tool in (LIBVIRTD, shutil.which("unshare")):
        if not tool or not Path(tool).exists():
            return f"missing {tool or 'unshare'} (install libvirt-daemon, util-linux)"
    return None


def ensure_host_setup() -> None:
    """Idempotent machine set-up libvirtd needs without `libvirt-daemon-system`.

    The QEMU driver resolves its default user before reading qemu.conf and refuses to start
    without `libvirt-qemu`; the bind-mount targets must exist.
    """
    def exists(db: str, name: str) -> bool:
        return subprocess.run(["getent", db, name], capture_output=True).returncode == 0

    for group in ("kvm", "libvirt-qemu"):
        if not exists("group", group):
            subprocess.run(["groupadd", "--system", group], check=True, capture_output=True)
    if not exists("passwd", "libvirt-qemu"):
        subprocess.run(["useradd", "--system", "--gid", "libvirt-qemu", "--groups", "kvm",
                        "--home-dir", "/var/lib/libvirt", "--no-create-home",
                        "--shell", "/usr/sbin/nologin", "libvirt-qemu"],
                       check=True, capture_output=True)
    for target in BIND_TARGETS.values():
        Path(target).mkdir(parents=True, exist_ok=True)


class Libvirtd:
    """One private libvirtd; `start()`, `kill()`, `stop()`."""

    def __init__(self, root: Path, port: int | None = None) -> None:
        self.root = root
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = root / "libvirtd.log"
        for name in BIND_TARGETS:
            (root / name).mkdir(parents=True, exist_ok=True)
        (root / "etc" / "libvirtd.conf").write_text(
            "listen_tls = 0\n"
            "listen_tcp = 1\n"
            f'tcp_port = "{self.port}"\n'
            'listen_addr = "127.0.0.1"\n'
            'auth_tcp = "none"\n'
            'unix_sock_dir = "/run/libvirt"\n'
            'log_outputs = "3:stderr"\n'
        )

    def test_uri(self, host_xml: Path) -> str:
        """The test driver serving `host_xml`, through this daemon over TCP."""
        return f"test+tcp://127.0.0.1:{self.port}{host_xml.resolve()}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout_s: float = 30.0) -> None:
        if self.running:
            return
        if port_open(self.port):
            raise RuntimeError(f"port {self.port} is already taken")
        mounts = " && ".join(f"mount --bind {self.root / name} {target}"
                             for name, target in BIND_TARGETS.items())
        script = (f"mount -t tmpfs tmpfs /run && mkdir -p /run/libvirt && {mounts} && "
                  f"exec {LIBVIRTD} --listen -f {BIND_TARGETS['etc']}/libvirtd.conf")
        log = self.log_path.open("ab")
        try:
            # unshare and sh both exec: the pid is libvirtd's, and it leads its own group.
            self.proc = subprocess.Popen(
                ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout_s
        while not port_open(self.port):
            if self.proc.poll() is not None:
                raise RuntimeError(f"libvirtd exited with {self.proc.returncode}; see {self.log_path}:\n"
                                   + self.log_path.read_text(errors="replace")[-2000:])
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"libvirtd did not listen on {self.port}; see {self.log_path}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: the host dies without closing anything."""
        self._signal(signal.SIGKILL, 10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if not self._signal(signal.SIGTERM, 10):
            self._signal(signal.SIGKILL, 10)

    def _signal(self, sig: int, wait_s: float) -> bool:
        proc = self.proc
        if proc is None:
            return True
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)  # its own session: libvirtd and any helper it forked
        try:
            proc.wait(wait_s)
        except subprocess.TimeoutExpired:
            return False
        self.proc = None
        deadline = time.monotonic() + wait_s
        while port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)
        return True


@pytest.fixture
def libvirtd(tmp_path: Path) -> Iterator[Libvirtd]:
    """A started private libvirtd; stopped (and waited for) whatever the test did."""
    reason = missing_requirements()
    if reason:
        pytest.skip(reason)
    ensure_host_setup()
    daemon = Libvirtd(tmp_path / "libvirtd")
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()
