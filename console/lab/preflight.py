"""Check, before touching anything, that this machine can run the lab; say how to fix it.

Each requirement is a file that must exist and the Debian package that provides it, so the
report can end with one `apt-get install …` line an operator can paste.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Requirement:
    what: str
    path: str
    package: str


REQUIREMENTS = (
    Requirement("libvirt daemon", "/usr/sbin/libvirtd", "libvirt-daemon"),
    Requirement("libvirt log daemon", "/usr/sbin/virtlogd", "libvirt-daemon"),
    Requirement("libvirt QEMU driver",
                "/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so",
                "libvirt-daemon-driver-qemu"),
    Requirement("QEMU", "/usr/bin/qemu-system-x86_64", "qemu-system-x86"),
    Requirement("virsh", "/usr/bin/virsh", "libvirt-clients"),
    Requirement("Prometheus", "/usr/bin/prometheus", "prometheus"),
    Requirement("libvirt exporter", "/usr/bin/prometheus-libvirt-exporter",
                "prometheus-libvirt-exporter"),
    Requirement("sshd", "/usr/sbin/sshd", "openssh-server"),
    Requirement("ssh-keygen", "/usr/bin/ssh-keygen", "openssh-client"),
    Requirement("static busybox", "/bin/busybox", "busybox-static"),
    Requirement("cpio", "/usr/bin/cpio", "cpio"),
    Requirement("unshare/nsenter", "/usr/bin/nsenter", "util-linux"),
    Requirement("setsid", "/usr/bin/setsid", "util-linux"),
    Requirement("dpkg", "/usr/bin/dpkg", "dpkg"),
    Requirement("apt-get", "/usr/bin/apt-get", "apt"),
)


def _is_static(path: str) -> bool:
    """A dynamically linked busybox (package `busybox`) cannot run alone in an initramfs."""
    try:
        with open(path, "rb") as fh:
            header = fh.read(4096)
    except OSError:
        return False
    return b"/lib64/ld-linux" not in header and b"/lib/ld-linux" not in header


def missing_requirements(requirements: Iterable[Requirement] = REQUIREMENTS) -> list[Requirement]:
    missing = []
    for req in requirements:
        exists = Path(req.path).exists() or bool(shutil.which(Path(req.path).name))
        if req.package == "busybox-static":
            exists = exists and _is_static(req.path)
        if not exists:
            missing.append(req)
    return missing


def problems(requirements: Iterable[Requirement] = REQUIREMENTS) -> list[str]:
    """Human-readable lines, empty when the lab can start. Root first: nothing works without."""
    lines = []
    if os.geteuid() != 0:
        lines.append("the lab needs root (namespaces, mounts, libvirtd): rerun with sudo")
    missing = missing_requirements(requirements)
    for req in missing:
        lines.append(f"missing {req.what}: {req.path} (Debian package {req.package})")
    if missing:
        packages = " ".join(dict.fromkeys(req.package for req in missing))
        lines.append(f"install with: apt-get install -y {packages}")
    try:
        import libvirt  # noqa: F401
    except ImportError:
        lines.append("missing Python module libvirt: install libvirt-python in this environment")
    return lines
