"""System accounts the QEMU driver needs before it reads qemu.conf.

Without `libvirt-daemon-system` (which needs systemd) the `libvirt-qemu` user and the `kvm`
and `libvirt-qemu` groups do not exist, and libvirtd's QEMU driver refuses to load even though
our qemu.conf runs guests as root. They are created like the Debian package would and kept
after `lab down`, as that package would keep them.
"""

from __future__ import annotations

import grp
import pwd
import subprocess


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def ensure_qemu_accounts() -> list[str]:
    """Create what is missing; return what was created (for the `lab up` report)."""
    created = []
    for group in ("kvm", "libvirt-qemu"):
        if not _group_exists(group):
            subprocess.run(["groupadd", "--system", group], check=True, capture_output=True)
            created.append(f"group {group}")
    if not _user_exists("libvirt-qemu"):
        subprocess.run(["useradd", "--system", "--gid", "libvirt-qemu", "--groups", "kvm",
                        "--home-dir", "/var/lib/libvirt", "--no-create-home",
                        "--shell", "/usr/sbin/nologin", "libvirt-qemu"],
                       check=True, capture_output=True)
        created.append("user libvirt-qemu")
    return created
