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


def _probe_key(kernel: Path) -> str:
    """What the probe's answer depends on: this machine's kernel and KVM modules, our kernel."""
    modules = sorted(m for m in os.listdir("/sys/module") if m.startswith("kvm"))
    return f"{os.uname().release} {','.join(modules)} {kernel.stat().st_size}"


def choose(kernel: Path, initrd: Path, requested: str | None = None,
           cache: Path | None = None) -> str:
    """`requested` ('kvm'/'qemu') wins; else KVM if it boots the guest, else emulation.

    The probe's answer is kept in `cache` (with what it depends on), so only the first
    `lab up` on a machine pays its few seconds.
    """
    if requested in (KVM, EMULATED):
        return requested
    key = _probe_key(kernel)
    if cache is not None and cache.exists():
        cached_key, _, answer = cache.read_text().rpartition(" ")
        if cached_key == key and answer in (KVM, EMULATED):
            return answer
    answer = KVM if kvm_boots(kernel, initrd) else EMULATED
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(f"{key} {answer}")
    return answer
