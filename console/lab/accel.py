"""Choose KVM or plain QEMU emulation by booting the real guest image once, not by /dev/kvm.

An openable /dev/kvm is not proof that KVM runs our guests: under some nested hypervisors
(e.g. a `kvm_pvm` host) a stock Debian kernel opens /dev/kvm fine and then crawls through its
decompressor for minutes. So the lab boots the guest kernel under KVM for a few seconds and
uses KVM only if the init's banner appears on the serial port; emulation boots it in ~3 s.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

KVM = "kvm"
EMULATED = "qemu"
BANNER = b"novacron lab guest:"


def dev_kvm_opens() -> bool:
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    os.close(fd)
    return True


def kvm_boots(kernel: Path, initrd: Path, timeout: float = 10.0) -> bool:
    """Boot the guest under KVM with `lab_probe=1` (its init powers off after the banner)."""
    if not dev_kvm_opens():
        return False
    with tempfile.TemporaryDirectory(prefix="novacron-kvm-probe-") as tmp:
        serial = Path(tmp) / "serial.log"
        proc = subprocess.Popen(
            ["qemu-system-x86_64", "-accel", "kvm", "-m", "128", "-nodefaults",
             "-display", "none", "-no-reboot", "-serial", f"file:{serial}",
             "-kernel", str(kernel), "-initrd", str(initrd),
             "-append", "console=ttyS0 quiet panic=-1 lab_probe=1"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if serial.exists() and BANNER in serial.read_bytes():
                    return True
                if proc.poll() is not None:
                    return serial.exists() and BANNER in serial.read_bytes()
                time.sleep(0.1)
            return False
        finally:
            proc.kill()
            proc.wait()


def choose(kernel: Path, initrd: Path, requested: str | None = None) -> str:
    """`requested` ('kvm'/'qemu') wins; else KVM if it boots the guest, else emulation."""
    if requested in (KVM, EMULATED):
        return requested
    return KVM if kvm_boots(kernel, initrd) else EMULATED
