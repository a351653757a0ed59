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
from collections.abc import Sequence
from pathlib import Path

from console.lab.layout import HostLayout
from console.lab.procs import Proc, is_alive, spawn


def nsenter(holder: Proc, argv: Sequence[str]) -> list[str]:
    """argv run inside the holder's namespaces (nsenter execs it: the pid stays the daemon's)."""
    return ["nsenter", "-t", str(holder.pid), "-m", "-u", "--", *argv]


def start_holder(host: HostLayout) -> Proc:
    script = f"exec -a novacron-lab-{host.name} sleep infinity"
    argv = ["unshare", "--mount", "--uts", "--propagation", "private",
            "--", "bash", "-c", script]
    return spawn(argv, host.logs_dir / "holder.log")


def setup_script(host: HostLayout) -> str:
    """Shell run once inside a fresh namespace: hostname, private /run, per-host libvirt dirs."""
    lines = [
        "set -e",
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
    subprocess.run(nsenter(holder, ["sh", "-c", setup_script(host)]), check=True,
                   capture_output=True, text=True)


def unmount_all(holder: Proc, host: HostLayout) -> None:
    """Unmount what `setup` mounted, inside the namespace (the machine's table never had them)."""
    if not is_alive(holder):
        return
    for target in reversed(mounts_made(host)):
        subprocess.run(nsenter(holder, ["umount", "-l", target]), capture_output=True)


def mount_ns_id(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def members(holder: Proc) -> list[int]:
    """Every process inside the holder's mount namespace (daemons, QEMU guests), holder excluded.

    This is how `lab down` finds QEMU processes whose libvirtd is gone: by the namespace the
    lab created, never by process name.
    """
    if not is_alive(holder):
        return []
    ns = mount_ns_id(holder.pid)
    if ns is None or ns == mount_ns_id(os.getpid()):
        return []
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != holder.pid and mount_ns_id(
                int(entry.name)) == ns:
            found.append(int(entry.name))
    return found


def read_in_namespace(holder: Proc, path: str) -> str | None:
    """Read a file as the namespace sees it (e.g. a pid file on its private /run)."""
    try:
        return Path(f"/proc/{holder.pid}/root{path}").read_text()
    except OSError:
        return None
