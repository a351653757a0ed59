"""libvirt over SSH through a bastion vs direct TCP, with real OpenSSH servers on loopback.

N hosts (`NOVACRON_BENCH_SSH_HOSTS`, default 50; 10 with --quick) are N real sshd processes
behind one bastion sshd, each forwarding to the same test-driver libvirtd's unix socket; the
baseline reaches that libvirtd over `test+tcp://`. A sweep is what one fleet poll does per
host: `hosts()` (with the SFTP /proc facts on the SSH side) and `vms()`, all hosts at once;
one row repeats it without the facts, the libvirt calls alone.

Rows (label, ours, baseline, verdict):
- first sweep (connects every host: SSH through the bastion, vs libvirt's own TCP);
- warm sweep, median of rounds (with and without the /proc facts);
- SSH handshake to one host through one and two jump hosts, vs straight to it (fresh
  connections each time, median).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from backends.libvirt.backend import LibvirtBackend
from backends.ssh.link import SshLink
from tests.bench import Skip
from tests.integration.sshd_fixture import Sshd, SshLab, TestLibvirtd, keygen, missing_requirements

ROUNDS = 5
HANDSHAKES = 7
SWEEP_TARGET_S = 2.0
"""A warm sweep of every host must fit well inside the default poll interval (5 s)."""


async def sweep(backends: list[Any], facts: bool = True) -> float:
    started = time.monotonic()

    async def one(backend: Any) -> None:
        if facts:
            await backend.hosts()
        else:  # the same libvirt calls as hosts(), without the SFTP /proc reads
            await backend._call(backend._read_host)
        await backend.vms()

    await asyncio.gather(*(one(b) for b in backends))
    return time.monotonic() - started


async def sweeps(backends: list[Any]) -> tuple[float, float, float]:
    """First sweep, then the medians of warm sweeps with and without host facts."""
    first = await sweep(backends)
    warm = [await sweep(backends) for _ in range(ROUNDS)]
    bare = [await sweep(backends, facts=False) for _ in range(ROUNDS)]
    return first, statistics.median(warm), statistics.median(bare)


async def handshakes(lab: SshLab, host: str, jumps: tuple[str, ...]) -> float:
    """Median time to open a fresh SSH connection to `host` (`jumps`: ProxyJump chain; empty:
    the `<host>-direct` alias). A new config file each time: nothing is pooled."""
    times = []
    for _ in range(HANDSHAKES):
        config = lab.config(jump_chain=jumps or ("bastion",))
        link = SshLink(host if jumps else f"{host}-direct", config_path=str(config))
        started = time.monotonic()
        await link.connect()
        times.append(time.monotonic() - started)
        link.close()
    await lab.wait_closed()
    return statistics.median(times)


async def measure(lab: SshLab, daemon: TestLibvirtd, names: list[str]) -> list[tuple[str, str, str, str]]:
    config = lab.config(keepalive=(5, 3))
    ours = [lab.backend(name, config) for name in names]
    direct = [LibvirtBackend(name, daemon.tcp_uri) for name in names]
    try:
        first_ssh, warm_ssh, bare_ssh = await sweeps(ours)
        first_tcp, warm_tcp, _ = await sweeps(direct)  # direct hosts have no facts to read
    finally:
        for backend in (*ours, *direct):
            await backend.close()
    one = await handshakes(lab, names[0], ("bastion",))
    two = await handshakes(lab, names[0], ("bastion", "bastion"))
    zero = await handshakes(lab, names[0], ())
    n = len(names)
    verdict = "ok" if warm_ssh <= SWEEP_TARGET_S else "SLOW"
    return [
        (f"first sweep, {n} hosts (connect all)", f"{first_ssh:.2f} s", f"{first_tcp:.2f} s TCP",
         f"x{first_ssh / first_tcp:.1f} (SSH via bastion vs libvirt TCP)"),
        (f"warm sweep, {n} hosts, median of {ROUNDS}", f"{warm_ssh * 1000:.0f} ms",
         f"{warm_tcp * 1000:.0f} ms TCP", f"<= {SWEEP_TARGET_S:g} s: {verdict} (x{warm_ssh / warm_tcp:.1f})"),
        ("  the same libvirt calls, no /proc facts", f"{bare_ssh * 1000:.0f} ms",
         f"{warm_tcp * 1000:.0f} ms TCP", f"x{bare_ssh / warm_tcp:.1f}"),
        ("SSH handshake through 1 jump host", f"{one * 1000:.0f} ms", f"{zero * 1000:.0f} ms direct",
         f"median of {HANDSHAKES}"),
        ("SSH handshake through 2 jump hosts", f"{two * 1000:.0f} ms", f"{zero * 1000:.0f} ms direct",
         f"median of {HANDSHAKES}"),
    ]


def run() -> list[tuple[str, str, str, str]]:
    reason = missing_requirements()
    if reason:
        raise Skip(reason)
    quick = os.environ.get("NOVACRON_BENCH_QUICK") == "1"
    count = int(os.environ.get("NOVACRON_BENCH_SSH_HOSTS", "10" if quick else "50"))
    with tempfile.TemporaryDirectory(prefix="novacron-bench-ssh-") as tmp:
        root = Path(tmp)
        key = keygen(root / "id_ed25519", "bench client")
        authorized = root / "authorized_keys"
        authorized.write_text(key.with_suffix(".pub").read_text())
        daemon = TestLibvirtd(root / "libvirtd")
        servers: list[Sshd] = []
        try:
            daemon.start()
            bastion = Sshd("bastion", root, authorized)
            servers.append(bastion)
            hosts = {f"h{i:02d}": Sshd(f"h{i:02d}", root, authorized) for i in range(1, count + 1)}
            servers += hosts.values()
            for server in servers:
                server.start()
            lab = SshLab(root, key, bastion, hosts, dict.fromkeys(hosts, daemon))
            return asyncio.run(measure(lab, daemon, list(hosts)))
        finally:
            for server in servers:
                server.stop()
            daemon.stop()
