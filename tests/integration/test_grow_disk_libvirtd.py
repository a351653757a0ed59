"""Growing a VM's disk through the dispatcher, on a private libvirtd's QEMU driver with a real
qcow2 volume in a directory pool, checked with `virsh` and `qemu-img`.

libvirt's test driver cannot do it (it has no `virDomainBlockResize`), so the guest here is
a real QEMU process: 32 MiB, no OS (the firmware finds nothing to boot and waits), its disk
the volume. Stopped, the volume is resized through the pool; running, QEMU resizes the disk
it has open (`blockResize`). The guest-side step (growpart, resize2fs) is only named: there
is no guest OS here to run it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import libvirt
import pytest

from backends.libvirt.backend import LibvirtBackend
from console.actions.dispatcher import Dispatcher
from console.errors import Code
from console.models import VM
from console.provision.resize import grow_disk_request
from console.store import Store
from tests.integration.libvirtd_fixture import Libvirtd, ensure_host_setup, missing_requirements

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

MIB = 2**20
QEMU_CONF = ('user = "root"\ngroup = "root"\nsecurity_driver = "none"\n'
             "dynamic_ownership = 0\nstdio_handler = \"file\"\n")  # no virtlogd needed


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(qemu+tcp URI, the pool's directory) of a private libvirtd with a pool `grow`."""
    reason = missing_requirements()
    if reason:
        pytest.fail(f"libvirtd cannot run here: {reason}")
    ensure_host_setup()
    root = tmp_path_factory.mktemp("grow")
    running = Libvirtd(root / "libvirtd")
    (running.root / "etc" / "qemu.conf").write_text(QEMU_CONF)
    running.start()
    uri = f"qemu+tcp://127.0.0.1:{running.port}/system"
    pool_dir = root / "pool"
    pool_dir.mkdir()
    conn = libvirt.open(uri)
    try:
        pool = conn.storagePoolDefineXML(f"<pool type='dir'><name>grow</name><target>"
                                         f"<path>{pool_dir}</path></target></pool>")
        pool.create(0)
        yield uri, pool_dir
    finally:
        for dom in conn.listAllDomains():
            if dom.isActive():
                dom.destroy()
        conn.close()
        running.stop()


def virsh(uri: str, *args: str) -> str:
    out = subprocess.run(["virsh", "-c", uri, *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def virtual_size(path: Path) -> int:
    out = subprocess.run(["qemu-img", "info", "--force-share", "--output=json", str(path)],
                         capture_output=True, text=True, timeout=30, check=True)
    return int(json.loads(out.stdout)["virtual-size"])


def make_guest(uri: str, pool_dir: Path, name: str) -> Path:
    """A defined (not started) guest whose vda is a new 64 MiB qcow2 volume of the pool."""
    conn = libvirt.open(uri)
    try:
        pool = conn.storagePoolLookupByName("grow")
        vol = pool.createXML(f"<volume><name>{name}.qcow2</name><capacity unit='MiB'>64</capacity>"
                             "<target><format type='qcow2'/></target></volume>", 0)
        conn.defineXML(f"""<domain type='qemu'><name>{name}</name><memory unit='MiB'>32</memory>
          <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
          <devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
          <source file='{vol.path()}'/><target dev='vda' bus='virtio'/></disk>
          <graphics type='vnc' port='-1' listen='127.0.0.1'/></devices></domain>""")
    finally:
        conn.close()
    return pool_dir / f"{name}.qcow2"


@pytest.fixture
async def door(daemon: tuple[str, Path],
               tmp_path: Path) -> AsyncIterator[tuple[LibvirtBackend, Dispatcher, Store]]:
    backend = LibvirtBackend("kvm-1", daemon[0])
    store = await Store.open(tmp_path / "audit.db")
    try:
        yield backend, Dispatcher({"kvm-1": backend}, audit=store, context="t", read_only=False), store
    finally:
        await store.close()
        await backend.close()


async def listed(backend: LibvirtBackend, name: str) -> VM:
    return next(vm for vm in await backend.vms() if vm.name == name)


async def test_grow_a_stopped_then_a_running_guest(daemon: tuple[str, Path],
                                                   door: tuple[LibvirtBackend, Dispatcher, Store]) -> None:
    uri, pool_dir = daemon
    backend, dispatcher, store = door
    disk = make_guest(uri, pool_dir, "grow-1")
    vm = await listed(backend, "grow-1")

    stopped = await dispatcher.run(grow_disk_request(vm, disk="vda", size_bytes=128 * MIB,
                                                     origin="test"))
    assert stopped.ok and not stopped.value.live, stopped.error
    assert "growpart" in stopped.value.note and "resize2fs" in stopped.value.note
    assert virtual_size(disk) == 128 * MIB
    assert "128.00 MiB" in virsh(uri, "vol-info", "--pool", "grow", "grow-1.qcow2")

    shrink = await dispatcher.run(grow_disk_request(vm, disk="vda", size_bytes=64 * MIB,
                                                    origin="test"))
    assert shrink.error is not None and shrink.error.kind is Code.CONFIG_INVALID
    assert "only grow" in shrink.error.cause
    assert virtual_size(disk) == 128 * MIB

    virsh(uri, "start", "grow-1")
    running = await dispatcher.run(grow_disk_request(vm, disk="vda", size_bytes=256 * MIB,
                                                     origin="test"))
    assert running.ok and running.value.live, running.error
    assert "growpart /dev/vda 1" in running.value.note
    info = dict(line.split(":", 1) for line in virsh(uri, "domblkinfo", "grow-1", "vda",
                                                     "--human").splitlines() if ":" in line)
    assert info["Capacity"].strip() == "256.000 MiB"  # what the running QEMU now has
    assert virtual_size(disk) == 256 * MIB

    missing = await dispatcher.run(grow_disk_request(vm, disk="vdz", size_bytes=512 * MIB,
                                                     origin="test"))
    assert missing.error is not None and missing.error.kind is Code.CONFIG_INVALID
    assert "its disks: vda" in missing.error.cause
    rows = [(e.action, e.status.value) for e in await store.audit(limit=10)]
    assert rows == [("vm.grow_disk", "failed"), ("vm.grow_disk", "ok"),
                    ("vm.grow_disk", "failed"), ("vm.grow_disk", "ok")]


async def test_read_only_refuses_and_the_disk_stays(daemon: tuple[str, Path], tmp_path: Path) -> None:
    uri, pool_dir = daemon
    disk = make_guest(uri, pool_dir, "grow-ro")
    backend = LibvirtBackend("kvm-1", uri, read_only=True)
    store = await Store.open(tmp_path / "audit.db")
    try:
        dispatcher = Dispatcher({"kvm-1": backend}, audit=store, context="t", read_only=True)
        vm = await listed(backend, "grow-ro")
        outcome = await dispatcher.run(grow_disk_request(vm, disk="vda", size_bytes=128 * MIB,
                                                         origin="test"))
        assert outcome.status == "refused" and outcome.error is not None
        assert outcome.error.kind is Code.READ_ONLY
        (row,) = await store.audit(limit=5)
        assert (row.action, row.status.value, row.error_code) == ("vm.grow_disk", "refused",
                                                                  "NOVA-4001")
    finally:
        await store.close()
        await backend.close()
    assert virtual_size(disk) == 64 * MIB


def test_cli_grow_disk(daemon: tuple[str, Path], tmp_path: Path) -> None:
    uri, pool_dir = daemon
    disk = make_guest(uri, pool_dir, "grow-cli")
    config = tmp_path / "config.toml"
    config.write_text(f'[contexts.k]\n[[contexts.k.backends]]\nkind = "libvirt"\nname = "kvm-1"\n'
                      f'uri = "{uri}"\n')
    env = {**os.environ, "NOVACRON_CONFIG": str(config), "NOVACRON_STATE_DIR": str(tmp_path)}
    out = subprocess.run([str(Path(sys.executable).with_name("novacron")), "--context", "k", "vm",
                          "grow-disk", "grow-cli", "--disk", "vda", "--size", "96MiB"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "growpart" in out.stdout + out.stderr
    assert virtual_size(disk) == 96 * MIB
    bad = subprocess.run([str(Path(sys.executable).with_name("novacron")), "--context", "k", "vm",
                          "grow-disk", "grow-cli", "--size", "lots"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode != 0 and "not a size" in bad.stderr
