"""A lab host's private view of the machine: a mount + UTS namespace kept open by a holder.

The holder (a sleeping process started by `unshare`) owns the namespace, so libvirtd can be
killed and restarted inside it (tests do that) without losing /run, the guests' QEMU state or
the bind mounts. Mounts made inside never appear in the machine's mount table; they vanish
with the namespace's last process, and `teardown` unmounts them explicitly first anyway.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from console.lab.layout import HostLayout
from console.lab.procs import Proc, is_alive, spawn, stop


def nsenter(holder: Proc, argv: Sequence[str]) -> list[str]:
    """argv run inside the holder's namespaces (nsenter execs it: the pid stays the daemon's).

    Refuses a holder that is not (or no longer) in namespaces of its own.
    """
    if not is_private(holder):
        raise RuntimeError(f"lab namespace holder {holder.pid} is gone or not isolated")
    return ["nsenter", "-t", str(holder.pid), "-m", "-u", "--", *argv]


def ns_id(pid: int, kind: str) -> str | None:
    """e.g. 'mnt:[4026532177]'; None when the process is gone."""
    try:
        return os.readlink(f"/proc/{pid}/ns/{kind}")
    except OSError:
        return None


def is_private(holder: Proc) -> bool:
    """True once the holder has left our mount and UTS namespaces.

    `spawn` returns as soon as the holder is forked, before `unshare` has run: entering it
    earlier would enter *our* namespaces, and the setup would mount over the machine's /run
    and rename the machine. Everything that enters a holder checks this first.
    """
    me = os.getpid()
    return is_alive(holder) and all(
        ns_id(holder.pid, kind) not in (None, ns_id(me, kind)) for kind in ("mnt", "uts"))


def start_holder(host: HostLayout, timeout: float = 10.0) -> Proc:
    """Start the holder and return once it sits in its own namespaces."""
    script = f"exec -a novacron-lab-{host.name} sleep infinity"
    argv = ["unshare", "--mount", "--uts", "--propagation", "private",
            "--", "bash", "-c", script]
    holder = spawn(argv, host.logs_dir / "holder.log")
    deadline = time.monotonic() + timeout
    while not is_private(holder):
        if not is_alive(holder) or time.monotonic() > deadline:
            stop(holder)
            raise RuntimeError(f"{host.name}: unshare did not create a namespace; "
                               f"see {host.logs_dir / 'holder.log'}")
        time.sleep(0.02)
    return holder


def setup_script(host: HostLayout, expect_mnt: str, expect_uts: str) -> str:
    """Shell run once inside a fresh namespace: hostname, private /run, per-host libvirt dirs.

    It first checks it really runs in the expected namespaces (a second guard against
    mounting over the machine's own directories).
    """
    lines = [
        "set -e",
        f'[ "$(readlink /proc/self/ns/mnt)" = {shlex.quote(expect_mnt)} ] || exit 97',
        f'[ "$(readlink /proc/self/ns/uts)" = {shlex.quote(expect_uts)} ] || exit 97',
        "mount --make-rprivate /",
        f"hostname {shlex.quote(host.name)}",
        "mount -t tmpfs -o mode=0755,size=64m novacron-lab-run /run",
        "mkdir -p /run/sshd /run/libvirt /run/lock",
    ]
    for target, source in host.bind_sources().items():
        lines.append(f"mount --bind {shlex.quote(str(source))} {shlex.quote(target)}")
    return "\n".join(lines) + "\n"


def mounts_made(host: HostLayout) -> list[str]:
    """Mount points `setup_script` creates, innermost last (unmount in reverse)."""
    return ["/run", *host.bind_sources()]


def setup(holder: Proc, host: HostLayout) -> None:
    mnt, uts = ns_id(holder.pid, "mnt"), ns_id(holder.pid, "uts")
    if mnt is None or uts is None:
        raise RuntimeError(f"{host.name}: namespace holder {holder.pid} vanished")
    subprocess.run(nsenter(holder, ["sh", "-c", setup_script(host, mnt, uts)]), check=True,
                   capture_output=True, text=True)


def unmount_all(holder: Proc, host: HostLayout) -> None:
    """Unmount what `setup` mounted, inside the namespace (the machine's table never had them)."""
    if not is_private(holder):
        return
    for target in reversed(mounts_made(host)):
        subprocess.run(nsenter(holder, ["umount", "-l", target]), capture_output=True)


def members(holder: Proc) -> list[int]:
    """Every process of this lab host (daemons, QEMU guests), holder excluded.

    Matched by UTS namespace: libvirt gives each QEMU a mount namespace of its own, but QEMU
    keeps libvirtd's hostname namespace. This is how `lab down` finds QEMU processes whose
    libvirtd is gone: by the namespace the lab created, never by process name.
    """
    if not is_private(holder):
        return []
    uts = ns_id(holder.pid, "uts")
    return [int(entry.name) for entry in Path("/proc").iterdir()
            if entry.name.isdigit() and int(entry.name) != holder.pid
            and ns_id(int(entry.name), "uts") == uts]


def mounted_in_any_namespace(path: str) -> bool:
    """Whether some process's mount namespace has a mount on `path`.

    Removing a directory that another namespace (another lab's host) mounts over would
    silently detach that mount there, so `lab down` keeps such mount points.
    """
    seen: set[str] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        ns = ns_id(int(entry.name), "mnt")
        if ns is None or ns in seen:
            continue
        seen.add(ns)
        try:
            table = (entry / "mountinfo").read_text()
        except OSError:
            continue
        if any(line.split()[4] == path for line in table.splitlines()):
            return True
    return False
