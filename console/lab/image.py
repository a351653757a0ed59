"""The guest image: a Debian cloud kernel and a busybox initramfs that keeps memory dirty.

The kernel comes out of the Debian package with `dpkg -x` — never installed as the machine's
kernel. The initramfs's init rewrites a tmpfs file from /dev/urandom in a loop, so a live
migration has real, changing memory to copy; the pause between passes keeps a dozen guests
from eating both cores of a small machine when they run emulated. Size and pause come from
the kernel command line (`lab_dirty_mib=`, `lab_dirty_pause=`), so one image serves every
rate. The extracted kernel is cached outside the lab root (`CACHE_DIR`) so `lab up` after
`lab down` does not extract it again.
"""

from __future__ import annotations

import glob
import gzip
import shutil
import subprocess
import tempfile
from pathlib import Path

CACHE_DIR = Path("/var/cache/novacron-lab")
KERNEL_META_PACKAGE = "linux-image-cloud-amd64"
APT_ARCHIVES = Path("/var/cache/apt/archives")

INIT_SCRIPT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /dirty
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for module in /modules/*.ko; do [ -e "$module" ] && insmod "$module"; done
MIB=32
PAUSE=4
PROBE=0
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    lab_dirty_mib=*) MIB="${arg#*=}" ;;
    lab_dirty_pause=*) PAUSE="${arg#*=}" ;;
    lab_probe=1) PROBE=1 ;;
  esac
done
echo "novacron lab guest: dirtying ${MIB} MiB every ${PAUSE}s"
[ "$PROBE" = 1 ] && poweroff -f
mount -t tmpfs -o size=$((MIB + 8))m tmpfs /dirty
while true; do
  dd if=/dev/urandom of=/dirty/pages bs=1M count="$MIB" conv=notrunc 2>/dev/null
  sleep "$PAUSE"
done
"""


def _run(argv: list[str], cwd: Path | None = None) -> str:
    return subprocess.run(argv, cwd=cwd, check=True, capture_output=True, text=True).stdout


def kernel_package() -> str:
    """The versioned package the cloud meta-package depends on, e.g. linux-image-6.1.0-56-cloud-amd64."""
    out = _run(["apt-cache", "depends", KERNEL_META_PACKAGE])
    for line in out.splitlines():
        name = line.strip().removeprefix("Depends:").strip()
        if name.startswith("linux-image-") and name != KERNEL_META_PACKAGE:
            return name
    raise RuntimeError(f"apt-cache found no kernel behind {KERNEL_META_PACKAGE}")


def _find_deb(workdir: Path) -> Path:
    """A cloud kernel .deb: from apt's cache if one is there, else `apt-get download`."""
    cached = sorted(glob.glob(str(APT_ARCHIVES / "linux-image-*-cloud-amd64_*.deb")))
    cached = [c for c in cached if "unsigned" not in c and "dbg" not in c]
    if cached:
        return Path(cached[-1])
    _run(["apt-get", "download", kernel_package()], cwd=workdir)
    debs = sorted(workdir.glob("linux-image-*.deb"))
    if not debs:
        raise RuntimeError("apt-get download produced no kernel package")
    return debs[-1]


def cached_kernel() -> Path:
    """Extract (once) the cloud kernel's vmlinuz into CACHE_DIR."""
    existing = sorted(CACHE_DIR.glob("vmlinuz-*"))
    if existing:
        return existing[-1]
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="novacron-kernel-") as tmp:
        work = Path(tmp)
        _run(["dpkg", "-x", str(_find_deb(work)), str(work / "x")])
        kernels = sorted((work / "x" / "boot").glob("vmlinuz-*"))
        if not kernels:
            raise RuntimeError("the kernel package holds no boot/vmlinuz-*")
        target = CACHE_DIR / kernels[-1].name
        shutil.copyfile(kernels[-1], target)
    return target


BALLOON_MODULES = ("virtio", "virtio_ring", "virtio_pci_legacy_dev", "virtio_pci_modern_dev",
                   "virtio_pci", "virtio_balloon")
"""Loaded in this order by the provisioning template's init: with a balloon driver the guest
gives memory back and takes it again, so a live memory resize shows in `virsh dominfo`."""


def cached_modules(names: tuple[str, ...] = BALLOON_MODULES) -> list[Path]:
    """The kernel's virtio modules (uncompressed .ko), extracted once into CACHE_DIR."""
    target = CACHE_DIR / "modules"
    wanted = [target / f"{i:02d}-{name}.ko" for i, name in enumerate(names)]
    if all(p.exists() for p in wanted):
        return wanted
    with tempfile.TemporaryDirectory(prefix="novacron-modules-") as tmp:
        work = Path(tmp)
        _run(["dpkg", "-x", str(_find_deb(work)), str(work / "x")])
        target.mkdir(parents=True, exist_ok=True)
        for path, name in zip(wanted, names, strict=True):
            found = sorted((work / "x" / "lib" / "modules").glob(f"*/kernel/drivers/virtio/{name}.ko"))
            if not found:
                raise RuntimeError(f"the kernel package holds no {name}.ko")
            shutil.copyfile(found[-1], path)
    return wanted


def build_initramfs(target: Path, busybox: Path = Path("/bin/busybox"),
                    modules: tuple[Path, ...] = ()) -> None:
    """A gzip'd newc cpio with a static busybox and our init (and `modules`, loaded in
    name order by the init); nothing else."""
    with tempfile.TemporaryDirectory(prefix="novacron-initrd-") as tmp:
        tree = Path(tmp)
        (tree / "bin").mkdir()
        shutil.copyfile(busybox, tree / "bin" / "busybox")
        (tree / "bin" / "busybox").chmod(0o755)
        (tree / "init").write_text(INIT_SCRIPT)
        (tree / "init").chmod(0o755)
        names = [".", "bin", "bin/busybox", "init"]
        if modules:
            (tree / "modules").mkdir()
            names.append("modules")
            for module in modules:
                shutil.copyfile(module, tree / "modules" / module.name)
                names.append(f"modules/{module.name}")
        files = "\n".join(names) + "\n"
        cpio = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=tree, input=files.encode(),
                              check=True, capture_output=True).stdout
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(gzip.compress(cpio))


def ensure_images(images_dir: Path) -> tuple[Path, Path]:
    """Kernel and initramfs in the shared images dir; returns their paths."""
    images_dir.mkdir(parents=True, exist_ok=True)
    kernel = images_dir / "vmlinuz"
    initrd = images_dir / "initrd.img"
    if not kernel.exists():
        shutil.copyfile(cached_kernel(), kernel)
    if not initrd.exists():
        build_initramfs(initrd)
    return kernel, initrd


def ensure_provision_initrd(images_dir: Path) -> Path:
    """The initramfs of the provisioning template: the lab's, plus the virtio balloon driver."""
    initrd = images_dir / "initrd-balloon.img"
    if not initrd.exists():
        build_initramfs(initrd, modules=tuple(cached_modules()))
    return initrd
