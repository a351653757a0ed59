"""Creating and resizing VMs on the real lab (libvirtd + QEMU per host), checked with virsh.

The lab context `lab up` writes carries the `lab-tiny` template (a qcow2 overlay on the lab
pool's base image, the lab kernel, an initramfs with the balloon driver) and
`spread_by = "role"`. Every VM made here is named `prov-…` and removed afterwards with its
disk, whatever the test did, so the lab's own guests are never touched.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from console.actions.dispatcher import Dispatcher, Outcome
from console.config import Context, load_settings, resolve_context
from console.errors import Code
from console.fleet.polling import Fleet
from console.fleet.sources import build_backends
from console.lab.lab import Lab
from console.lab.pool import POOL, TEMPLATE, pool_dir
from console.models import FleetSnapshot
from console.provision import create
from console.provision.create import CreateRequest, Planned
from console.provision.resize import resize_request
from console.store import Store
from tests.integration.lab_fixture import guest_names, lab, lab_session, virsh

__all__ = ["lab", "lab_session"]  # fixtures, used by name

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

PREFIX = "prov-"
BOOTED = "novacron lab guest: dirtying"
BOOT_WAIT_S = 300


def ok(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode == 0, out.stderr
    return out.stdout


def where(lab: Lab, name: str) -> list[str]:
    """The lab hosts (by URI) that have a domain `name`, running or not."""
    return [h.uri for h in lab.hosts() if name in guest_names(h.uri, all_states=True)]


def volumes(lab: Lab) -> list[str]:
    """The pool's volumes as libvirt lists them after a refresh (the pool is shared)."""
    uri = lab.hosts()[0].uri
    ok(virsh(uri, "pool-refresh", POOL))
    table = ok(virsh(uri, "vol-list", POOL)).splitlines()[2:]  # after the header and its rule
    return [line.split()[0] for line in table if line.strip()]


def console_log(lab: Lab, host_uri: str, name: str) -> Path:
    host = next(h for h in lab.hosts() if h.uri == host_uri)
    return host.bind_sources()["/var/log/libvirt"] / "qemu" / f"{name}-console.log"


def wait_booted(lab: Lab, uri: str, name: str) -> None:
    """Until the guest's init speaks on its serial console (after it loaded its modules)."""
    log = console_log(lab, uri, name)
    deadline = time.monotonic() + BOOT_WAIT_S
    while time.monotonic() < deadline:
        if log.exists() and BOOTED in log.read_text(errors="replace"):
            return
        assert ok(virsh(uri, "domstate", name)).strip() == "running", f"{name} stopped booting"
        time.sleep(1)
    raise AssertionError(f"{name} did not boot: {log.read_text(errors='replace')[-1000:]}")


def dominfo(uri: str, name: str) -> dict[str, str]:
    rows = (line.partition(":") for line in ok(virsh(uri, "dominfo", name)).splitlines())
    return {key.strip(): value.strip() for key, _, value in rows if key.strip()}


def settled_memory(uri: str, name: str, want: str, timeout_s: float = 60) -> dict[str, str]:
    """dominfo once the guest's balloon driver has reached `want` (or the timeout passed)."""
    deadline = time.monotonic() + timeout_s
    while (info := dominfo(uri, name))["Used memory"] != want and time.monotonic() < deadline:
        time.sleep(1)
    return info


@dataclass
class Provisioner:
    """The lab context, its fleet, an audit store and the dispatcher: what the CLI builds."""

    lab: Lab
    name: str
    context: Context
    fleet: Fleet
    store: Store
    dispatcher: Dispatcher

    async def snapshot(self) -> FleetSnapshot:
        return await self.fleet.poll_once()

    async def plan(self, request: CreateRequest) -> list[Planned]:
        kinds = {name: b.kind for name, b in self.fleet.backends.items()}
        return create.plan(request, self.context, await self.snapshot(), kinds)

    async def make(self, request: CreateRequest, **kw: object) -> tuple[list[Planned], list[Outcome]]:
        planned = await self.plan(request)
        return planned, await create.run(self.dispatcher, planned, origin="test", **kw)  # type: ignore[arg-type]


def _remove_ours(lab: Lab) -> None:
    for host in lab.hosts():
        for name in guest_names(host.uri, all_states=True):
            if name.startswith(PREFIX):
                virsh(host.uri, "destroy", name)
                virsh(host.uri, "undefine", name)
    for disk in pool_dir(lab.layout.images_dir).glob(f"{PREFIX}*"):
        disk.unlink()


@pytest.fixture
def clean_lab(lab: Lab) -> Iterator[Lab]:
    _remove_ours(lab)
    try:
        yield lab
    finally:
        _remove_ours(lab)


@pytest.fixture
async def prov(clean_lab: Lab, tmp_path: Path) -> AsyncIterator[Provisioner]:
    settings, _ = load_settings(clean_lab.config_path())
    name, context = resolve_context(settings, "lab")
    assert TEMPLATE in context.templates and context.spread_by == "role"
    fleet = Fleet(name, build_backends(context, read_only=False), timeout_s=60)
    store = await Store.open(tmp_path / "audit.db")
    dispatcher = Dispatcher(fleet.backends, audit=store, context=name, read_only=False)
    try:
        yield Provisioner(clean_lab, name, context, fleet, store, dispatcher)
    finally:
        await store.close()
        await fleet.stop()


def unique(stem: str) -> str:
    return f"{PREFIX}{stem}-{uuid.uuid4().hex[:6]}"


async def test_three_vms_spread_over_the_hosts_and_boot(prov: Provisioner) -> None:
    name = unique("pg")
    request = CreateRequest(TEMPLATE, name, count=3, tags=("role=prov-pg",))
    planned = await prov.plan(request)
    # The ranking matches what virsh says of each host: 4 vCPUs per CPU minus those running.
    for fit in planned[0].ranking:
        cpus = int(dict(line.split(":", 1) for line in ok(virsh(fit.host.uri, "nodeinfo"))
                        .splitlines() if ":" in line)["CPU(s)"].strip())
        running = sum(int(dominfo(fit.host.uri, d)["CPU(s)"])
                      for d in guest_names(fit.host.uri, all_states=False))
        assert fit.ok and fit.free_vcpus_after == cpus * 4 - running - 1, fit.why()
    outcomes = await create.run(prov.dispatcher, planned, origin="test")
    assert [o.status for o in outcomes] == ["ok"] * 3, [o.error for o in outcomes]
    hosts = {}
    for i in range(1, 4):
        (uri,) = where(prov.lab, f"{name}-{i}")
        hosts[f"{name}-{i}"] = uri
        assert ok(virsh(uri, "domstate", f"{name}-{i}")).strip() == "running"
    assert len(set(hosts.values())) == 3, hosts  # spread_by role: one per host
    assert [p.chosen.host.uri for p in planned if p.chosen] == list(hosts.values())
    assert "no other role=prov-pg here" in planned[2].chosen.why()  # type: ignore[union-attr]
    for vm_name, uri in hosts.items():
        wait_booted(prov.lab, uri, vm_name)
    assert {f"{name}-{i}.qcow2" for i in range(1, 4)} <= set(volumes(prov.lab))
    steps = [(e.target_name, e.action, e.status.value) for e in await prov.store.audit(limit=100)]
    for i in range(1, 4):
        for action in ("vm.create", "vm.create.name", "vm.create.volume", "vm.create.define",
                       "vm.create.start"):
            assert (f"{name}-{i}", action, "ok") in steps


async def test_a_failure_after_the_volume_leaves_nothing_behind(prov: Provisioner,
                                                                tmp_path: Path) -> None:
    name = unique("clash")
    clash = tmp_path / "clash.xml"
    clash.write_text(f"<domain type='qemu'><name>{name}</name><memory unit='MiB'>32</memory>"
                     "<os><type arch='x86_64'>hvm</type></os></domain>")
    planned = await prov.plan(CreateRequest(TEMPLATE, name))
    host_uri = planned[0].chosen.host.uri  # type: ignore[union-attr]

    async def intrude(_vm: str, step: str, status: str, _detail: str) -> None:
        if (step, status) == ("volume", "ok"):  # someone defines the name after our volume
            ok(await asyncio.to_thread(virsh, host_uri, "define", str(clash)))

    (outcome,) = await create.run(prov.dispatcher, planned, origin="test", on_step=intrude)
    assert outcome.status == "failed" and outcome.error is not None
    assert outcome.error.kind is Code.NAME_TAKEN
    assert f"{name}.qcow2" not in volumes(prov.lab)  # the volume was deleted
    assert not (pool_dir(prov.lab.layout.images_dir) / f"{name}.qcow2").exists()
    assert where(prov.lab, name) == [host_uri]  # only the intruder's definition is left…
    assert "<memory unit='KiB'>32768</memory>" in ok(virsh(host_uri, "dumpxml", name))  # …its own
    rows = [(e.action, e.status.value) for e in reversed(await prov.store.audit(limit=50))
            if e.target_name == name]
    assert rows == [("vm.create", "failed"), ("vm.create.name", "ok"), ("vm.create.volume", "ok"),
                    ("vm.create.define", "failed"), ("vm.create.volume.undo", "ok")]
    create_row = next(e for e in await prov.store.audit(limit=50)
                      if e.target_name == name and e.action == "vm.create")
    assert (create_row.status.value, create_row.error_code) == ("failed", "NOVA-3006")


async def test_the_same_request_twice_makes_one_vm(prov: Provisioner) -> None:
    name = unique("idem")
    request = CreateRequest(TEMPLATE, name, request_id=f"req-{name}")
    _, (first,) = await prov.make(request)
    _, (second,) = await prov.make(request)
    assert first.ok and second.ok, (first.error, second.error)
    assert first.value.id == second.value.id
    assert len(where(prov.lab, name)) == 1
    assert [v for v in volumes(prov.lab) if v.startswith(name)] == [f"{name}.qcow2"]
    # Another request for the same name is a clash, not a second VM.
    _, (other,) = await prov.make(CreateRequest(TEMPLATE, name, request_id="another"))
    assert other.error is not None and other.error.kind is Code.NAME_TAKEN
    assert len(where(prov.lab, name)) == 1


async def test_live_resize_then_beyond_the_maximum(prov: Provisioner) -> None:
    name = unique("rs")
    _, (made,) = await prov.make(CreateRequest(TEMPLATE, name))
    assert made.ok, made.error
    (uri,) = where(prov.lab, name)
    wait_booted(prov.lab, uri, name)  # its init loaded the balloon driver
    booted = settled_memory(uri, name, "131072 KiB")  # the balloon inflates to its 128 MiB
    assert (booted["CPU(s)"], booted["Used memory"], booted["Max memory"]) == (
        "1", "131072 KiB", "262144 KiB")
    vm = next(v for v in (await prov.snapshot()).vms if v.name == name)

    live = await prov.dispatcher.run(resize_request(vm, vcpus=2, memory_bytes=192 * 2**20,
                                                    origin="test"))
    assert live.ok and live.value.live, (live.error, live.value)
    info = await asyncio.to_thread(settled_memory, uri, name, "196608 KiB")
    assert (info["CPU(s)"], info["Used memory"], info["State"]) == ("2", "196608 KiB", "running")

    later = await prov.dispatcher.run(resize_request(vm, vcpus=3, origin="test"))
    assert later.ok and not later.value.live
    assert "applied at next boot" in later.value.note
    assert dominfo(uri, name)["CPU(s)"] == "2"  # the running guest is unchanged…
    assert ok(virsh(uri, "vcpucount", name, "--config", "--maximum")).strip() == "3"  # …its definition not
    rows = [(e.action, e.status.value) for e in await prov.store.audit(limit=10)]
    assert rows[:2] == [("vm.resize", "ok"), ("vm.resize", "ok")]


def cli(lab: Lab, state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NOVACRON_CONFIG": str(lab.config_path()),
           "NOVACRON_STATE_DIR": str(state)}
    return subprocess.run([str(Path(sys.executable).with_name("novacron")), "--context", "lab", *args],
                          capture_output=True, text=True, env=env, timeout=300)


def test_read_only_refuses_create_and_resize_on_the_cli(clean_lab: Lab, tmp_path: Path) -> None:
    name = unique("ro")
    made = cli(clean_lab, tmp_path, "--read-only", "vm", "create", "--template", TEMPLATE,
               "--name", name)
    assert made.returncode == 3, made.stderr
    assert "NOVA-4001" in made.stderr
    assert where(clean_lab, name) == []
    target = guest_names(clean_lab.hosts()[0].uri)[0]
    before = dominfo(clean_lab.hosts()[0].uri, target)["CPU(s)"]
    resized = cli(clean_lab, tmp_path, "--read-only", "vm", "resize", target, "--vcpus", "2")
    assert resized.returncode == 3 and "NOVA-4001" in resized.stderr
    assert dominfo(clean_lab.hosts()[0].uri, target)["CPU(s)"] == before
    audit = json.loads(ok(cli(clean_lab, tmp_path, "audit", "--json")))
    assert [(r["action"], r["target_name"], r["status"], r["error_code"]) for r in audit] == [
        ("vm.resize", target, "refused", "NOVA-4001"), ("vm.create", name, "refused", "NOVA-4001")]
