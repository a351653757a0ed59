"""Lifecycle actions on a real QEMU guest on a real lab host, each checked with `virsh`.

`test_actions_libvirtd.py` drives libvirtd's test driver; here the same dispatcher (with a
real audit store) acts on a QEMU process that a lab libvirtd runs (`lab_fixture.py`). Each
test makes a guest of its own on one lab host, so the lab's twelve guests (which the
migration tests move around) are only read, never touched: the lab guest's inactive XML is
copied with a new name, no UUID, its own console log, and a small qcow2 disk (internal
snapshots need one). The disk sits in a transient directory storage pool of that host, as a
VM's disk would on a real hypervisor, so "delete the VM and its storage" goes through libvirt.
The guest, its pool and its files are removed afterwards whatever the test did.

The lab guests run a busybox init with no ACPI handling, so a graceful shutdown is ignored:
exactly the case an operator meets, and the one checked here (timeout, force-off offered).
"""

from __future__ import annotations

import subprocess
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from backends.libvirt.backend import LibvirtBackend
from console.actions import registry as actions
from console.actions.dispatcher import Dispatcher, Outcome, Request, Target
from console.errors import Code
from console.lab.guests import TAGS_NS
from console.lab.lab import Lab
from console.lab.layout import HostLayout
from console.store import Store
from tests.integration.lab_fixture import guest_names, lab, lab_session, virsh

__all__ = ["lab", "lab_session"]  # fixtures, used by name

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

BOOTED = "novacron lab guest: dirtying"
"""What the lab image's init prints on the serial console once the guest is up."""
BOOT_WAIT_S = 300
DISK_SIZE = "32M"


@dataclass(frozen=True)
class Guest:
    """A guest of the test's own on one lab host."""

    name: str
    uuid: str
    host: HostLayout
    disk: Path

    @property
    def uri(self) -> str:
        return self.host.uri

    @property
    def console_log(self) -> Path:
        return qemu_logs(self.host) / f"{self.name}-console.log"


def qemu_logs(host: HostLayout) -> Path:
    """The host's /var/log/libvirt/qemu, seen from outside its namespace."""
    return host.bind_sources()["/var/log/libvirt"] / "qemu"


def ok(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode == 0, out.stderr
    return out.stdout


def domstate(guest: Guest) -> str:
    return ok(virsh(guest.uri, "domstate", guest.name)).strip()


def snapshot_names(guest: Guest) -> list[str]:
    return ok(virsh(guest.uri, "snapshot-list", guest.name, "--name")).split()


def guest_xml(template: str, name: str, disk: Path) -> str:
    """A lab guest's inactive XML as a new domain: new name, no UUID, own log, one qcow2 disk."""
    ET.register_namespace("nova", TAGS_NS)
    root = ET.fromstring(template)
    old = root.findtext("name")
    root.find("name").text = name  # type: ignore[union-attr]
    for element in root.findall("uuid"):
        root.remove(element)
    for log in root.iter("log"):  # the serial console's log file is named after the guest
        log.set("file", log.get("file", "").replace(f"/{old}-", f"/{name}-"))
    devices = root.find("devices")
    assert devices is not None and devices.find("disk") is None, "lab guests have no disk"
    devices.insert(1, ET.fromstring(
        "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
        f"<source file='{disk}'/><target dev='vda' bus='virtio'/></disk>"))
    return ET.tostring(root, encoding="unicode")


def wait_booted(guest: Guest) -> None:
    """Until the guest's init speaks on its serial console (a guest that is really up)."""
    deadline = time.monotonic() + BOOT_WAIT_S
    while time.monotonic() < deadline:
        if guest.console_log.exists() and BOOTED in guest.console_log.read_text(errors="replace"):
            return
        assert domstate(guest) == "running", f"{guest.name} stopped while booting"
        time.sleep(1)
    tail = guest.console_log.read_text(errors="replace")[-2000:] if guest.console_log.exists() else ""
    raise AssertionError(f"{guest.name} did not boot: {tail}")


def lab_guests(lab: Lab, *, all_states: bool) -> dict[str, list[str]]:
    """The lab's own guests (lab-vm-*) by host URI."""
    return {h.uri: [g for g in guest_names(h.uri, all_states=all_states) if g.startswith("lab-vm-")]
            for h in lab.hosts()}


@pytest.fixture
def guest(lab: Lab, tmp_path: Path) -> Iterator[Guest]:
    """A running QEMU guest with a qcow2 disk, defined here and removed afterwards."""
    running_before = lab_guests(lab, all_states=False)
    template_uri, names = next((uri, names) for uri, names in lab_guests(lab, all_states=True).items()
                               if names)
    template = ok(virsh(template_uri, "dumpxml", "--inactive", names[0]))
    host = lab.hosts()[0]
    name = f"actions-{uuid.uuid4().hex[:8]}"
    pool = f"{name}-pool"
    disks = tmp_path / "disks"
    disks.mkdir()
    disk = disks / f"{name}.qcow2"
    xml = tmp_path / f"{name}.xml"
    try:
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), DISK_SIZE],
                       check=True, capture_output=True, text=True)
        ok(virsh(host.uri, "pool-create-as", pool, "dir", "--target", str(disks)))
        xml.write_text(guest_xml(template, name, disk))
        ok(virsh(host.uri, "define", str(xml)))
        ok(virsh(host.uri, "start", name))
        made = Guest(name, ok(virsh(host.uri, "domuuid", name)).strip(), host, disk)
        wait_booted(made)
        yield made
    finally:
        if name in guest_names(host.uri, all_states=True):
            virsh(host.uri, "destroy", name)
            virsh(host.uri, "undefine", name, "--snapshots-metadata")
        virsh(host.uri, "pool-destroy", pool)
        disk.unlink(missing_ok=True)
        for log in (f"{name}-console.log", f"{name}.log"):  # QEMU's and the serial console's
            (qemu_logs(host) / log).unlink(missing_ok=True)
    assert all(name not in guest_names(h.uri, all_states=True) for h in lab.hosts())
    assert lab_guests(lab, all_states=False) == running_before  # the lab's guests untouched
    assert pool not in ok(virsh(host.uri, "pool-list", "--all", "--name")).split()


@dataclass
class Console:
    """The dispatcher and its audit store, aimed at one guest."""

    dispatcher: Dispatcher
    store: Store
    target: Target

    async def run(self, action: str, *, typed_name: str | None = None, **params: object) -> Outcome:
        """As an operator would: yes given, the VM's name typed (unless `typed_name` says)."""
        request = Request(action, self.target,
                          actions.prepare_params(actions.get(action), params), confirmed=True,
                          typed_name=self.target.name if typed_name is None else typed_name,
                          origin="test")
        return await self.dispatcher.run(request)

    async def ok(self, action: str, **params: object) -> Outcome:
        outcome = await self.run(action, **params)
        assert outcome.ok, outcome.error
        return outcome


@pytest.fixture
async def console(guest: Guest, tmp_path: Path) -> AsyncIterator[Console]:
    backend = LibvirtBackend(guest.host.name, guest.uri)
    store = await Store.open(tmp_path / "audit.db")
    dispatcher = Dispatcher({guest.host.name: backend}, audit=store, context="lab", read_only=False)
    try:
        yield Console(dispatcher, store, Target(guest.host.name, guest.uuid, guest.name))
    finally:
        await store.close()
        await backend.close()


async def test_power_actions(guest: Guest, console: Console) -> None:
    assert domstate(guest) == "running"

    # The guest ignores ACPI: the shutdown ends as a timeout that offers force-off.
    shutdown = await console.run("vm.shutdown", timeout_s=5)
    assert shutdown.status == "failed"
    assert shutdown.error is not None and shutdown.error.kind is Code.TIMEOUT
    assert "force-off" in str(shutdown.error)
    assert domstate(guest) == "running"
    assert shutdown.audit_id is not None
    row = await console.store.audit_entry(shutdown.audit_id)
    assert row is not None
    assert (row.action, row.status.value, row.error_code) == ("vm.shutdown", "failed", "NOVA-2002")
    assert f"{guest.name} is still running after 5 s" in row.error_message
    assert "force-off is available" in row.error_cause

    await console.ok("vm.force_off")
    assert domstate(guest) == "shut off"
    await console.ok("vm.start")
    assert domstate(guest) == "running"
    await console.ok("vm.suspend")
    assert domstate(guest) == "paused"
    await console.ok("vm.resume")
    assert domstate(guest) == "running"

    entries = list(reversed(await console.store.audit(limit=20)))
    assert [(e.action, e.status.value) for e in entries] == [
        ("vm.shutdown", "failed"), ("vm.force_off", "ok"), ("vm.start", "ok"),
        ("vm.suspend", "ok"), ("vm.resume", "ok")]


async def test_snapshots(guest: Guest, console: Console) -> None:
    await console.ok("vm.snapshot_create", name="before-change", description="integration")
    assert snapshot_names(guest) == ["before-change"]
    listed = (await console.ok("vm.snapshots")).value
    assert [(s.name, s.state, s.description, s.current) for s in listed] == [
        ("before-change", "running", "integration", True)]

    await console.ok("vm.force_off")
    assert domstate(guest) == "shut off"
    await console.ok("vm.snapshot_revert", snapshot="before-change")
    assert domstate(guest) == "running"  # the snapshot was of a running guest, memory and all

    refused = await console.run("vm.snapshot_delete", typed_name="before", snapshot="before-change")
    assert refused.status == "refused" and refused.error is not None
    assert refused.error.kind is Code.NOT_CONFIRMED
    assert snapshot_names(guest) == ["before-change"]
    await console.ok("vm.snapshot_delete", snapshot="before-change")
    assert snapshot_names(guest) == []
    assert domstate(guest) == "running"


async def test_delete_vm_with_its_storage(guest: Guest, console: Console) -> None:
    await console.ok("vm.snapshot_create", name="kept-with-the-vm")
    refused = await console.run("vm.delete", typed_name=guest.name[:-1], remove_storage=True)
    assert refused.status == "refused" and refused.error is not None
    assert refused.error.kind is Code.NOT_CONFIRMED
    assert guest.name in guest_names(guest.uri, all_states=True)
    assert guest.disk.exists()

    deleted = await console.ok("vm.delete", remove_storage=True)
    assert deleted.value == []  # no disk left behind unremoved
    assert guest.name not in guest_names(guest.uri, all_states=True)
    assert not guest.disk.exists()
    gone = await console.run("vm.start")
    assert gone.error is not None and gone.error.kind is Code.VM_NOT_FOUND
