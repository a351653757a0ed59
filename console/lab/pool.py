"""The lab's storage pool and the template new VMs are made from.

One directory pool, `novacron-lab`, on the shared images path, defined on every lab host (as
shared storage would be on a real cluster: a disk made on one host is seen by the others, so
a made VM can still be migrated). It holds `base.qcow2`, a small empty qcow2 base image; a
new VM gets a qcow2 overlay on it and boots the lab kernel and initramfs, like the lab's own
guests. `lab up` writes the template into the `lab` context (`console.lab.context`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import libvirt

POOL = "novacron-lab"
BASE_VOLUME = "base.qcow2"
BASE_MIB = 64
TEMPLATE = "lab-tiny"
SPREAD_BY = "role"


@dataclass(frozen=True, slots=True)
class LabTemplate:
    """The lab's template: its TOML table's keys and values (written by `context_block`)."""

    kernel: Path
    initrd: Path
    accel: str

    def fields(self) -> dict[str, object]:
        return {
            "kind": "libvirt",
            "description": "lab guest: busybox init on the lab kernel, a qcow2 overlay disk",
            "vcpus": 1, "memory": "128MiB", "disk": f"{BASE_MIB}MiB", "tags": ["env=lab"],
            "pool": POOL, "base_volume": BASE_VOLUME,
            "max_vcpus": 2, "max_memory": "256MiB",
            "kernel": str(self.kernel), "initrd": str(self.initrd),
            "cmdline": "console=ttyS0 quiet panic=-1 lab_dirty_mib=8 lab_dirty_pause=10",
            "domain_type": self.accel,
        }


def pool_dir(images_dir: Path) -> Path:
    return images_dir / "pool"


def ensure_pool(conn: libvirt.virConnect, directory: Path) -> None:
    """Define, start and autostart the pool on one host (kept if it is there)."""
    directory.mkdir(parents=True, exist_ok=True)
    try:
        pool = conn.storagePoolLookupByName(POOL)
    except libvirt.libvirtError:
        pool = conn.storagePoolDefineXML(
            f"<pool type='dir'><name>{POOL}</name>"
            f"<target><path>{escape(str(directory))}</path></target></pool>", 0)
    if not pool.isActive():
        pool.create(0)
    pool.setAutostart(1)
    pool.refresh(0)


def ensure_base_volume(conn: libvirt.virConnect) -> None:
    """The empty qcow2 base image, made through libvirt on one host (the others refresh)."""
    pool = conn.storagePoolLookupByName(POOL)
    pool.refresh(0)
    try:
        pool.storageVolLookupByName(BASE_VOLUME)
        return
    except libvirt.libvirtError:
        pass
    pool.createXML(f"<volume><name>{BASE_VOLUME}</name>"
                   f"<capacity unit='MiB'>{BASE_MIB}</capacity>"
                   "<target><format type='qcow2'/></target></volume>", 0)
