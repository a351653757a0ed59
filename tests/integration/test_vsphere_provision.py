"""Creating (cloning a template) and resizing vSphere VMs against vcsim, through the scheduler
and the dispatcher as the CLI does it; every effect checked through a second, independent
pyVmomi session.

vcsim's default inventory: a standalone host DC0_H0 and a three-host cluster DC0_C0, two VMs
per host/pool. DC0_H0_VM1 is powered off, given a guest OS and marked as a template
(`vs-small`). Each test makes VMs of its own name, so the order of tests does not matter.

What vcsim cannot show: it accepts any reconfigure of a running VM (vCenter refuses one the
VM's hot-plug settings forbid: our check refuses first, and is what these tests exercise), it
ignores the host, size, annotation and power-on of a clone spec (our host, config and
power-on steps do them), and it
lets two VMs share a name in one folder (our name step refuses).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pyVmomi import vim

from backends.vsphere.create import REQUEST_KEY
from console.actions.dispatcher import Dispatcher, Outcome
from console.config import Context
from console.errors import Code
from console.fleet.polling import Fleet
from console.fleet.sources import build_backends
from console.provision import create
from console.provision.create import CreateRequest, Planned
from console.provision.resize import resize_request
from console.store import Store
from tests.integration import vcsim_fixture as vf

pytestmark = pytest.mark.integration

TEMPLATE_VM = "DC0_H0_VM1"
GUEST_ID = "debian10_64Guest"


@pytest.fixture(scope="module")
def sim() -> Iterator[vf.Vcsim]:
    with vf.running_vcsim() as running:
        yield running


@pytest.fixture(scope="module")
def api(sim: vf.Vcsim) -> Iterator[Any]:
    with vf.observer(sim) as si:
        template = api_vm(si, TEMPLATE_VM)
        vf.wait_task(template.PowerOffVM_Task())
        vf.wait_task(template.ReconfigVM_Task(vim.vm.ConfigSpec(guestId=GUEST_ID)))
        template.MarkAsTemplate()
        yield si


def api_vms(api: Any, name: str) -> list[Any]:
    return [vim.VirtualMachine(m, api._stub)
            for m, p in vf.all_of(api, vim.VirtualMachine, ["name"]).items() if p["name"] == name]


def api_vm(api: Any, name: str) -> Any:
    (vm,) = api_vms(api, name)
    return vm


def context_for(sim: vf.Vcsim, **extra: Any) -> Context:
    return Context.model_validate({
        "backends": [{"kind": "vsphere", "name": "vc", "host": sim.host,
                      "ca_file": str(sim.ca_file)}],
        "templates": {"vs-small": {"kind": "vsphere", "vcpus": 2, "memory": "256MiB",
                                   "tags": ["role=web"], "template_vm": TEMPLATE_VM}},
        **extra})


@dataclass
class Rig:
    context: Context
    fleet: Fleet
    store: Store
    dispatcher: Dispatcher

    async def plan(self, request: CreateRequest) -> list[Planned]:
        kinds = {name: b.kind for name, b in self.fleet.backends.items()}
        return create.plan(request, self.context, await self.fleet.poll_once(), kinds)

    async def make(self, request: CreateRequest, **kw: Any) -> tuple[list[Planned], list[Outcome]]:
        planned = await self.plan(request)
        return planned, await create.run(self.dispatcher, planned, origin="test", **kw)

    async def audit(self, name: str) -> list[tuple[str, str]]:
        return [(e.action, e.status.value) for e in reversed(await self.store.audit(limit=100))
                if e.target_name == name]


async def open_rig(sim: vf.Vcsim, tmp_path: Path, *, read_only: bool) -> Rig:
    context = context_for(sim)
    fleet = Fleet("vs", build_backends(context, read_only=read_only), interval_s=3600)
    store = await Store.open(tmp_path / "audit.db")
    return Rig(context, fleet, store,
               Dispatcher(fleet.backends, audit=store, context="vs", read_only=read_only))


@pytest.fixture
async def rig(sim: vf.Vcsim, api: Any, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Rig]:
    monkeypatch.setenv("VSPHERE_USER", sim.user)
    monkeypatch.setenv("VSPHERE_PASSWORD", sim.password)
    opened = await open_rig(sim, tmp_path, read_only=False)
    try:
        yield opened
    finally:
        await opened.fleet.stop()
        await opened.store.close()


async def test_create_clones_the_template_on_the_chosen_host(rig: Rig, api: Any) -> None:
    planned, (outcome,) = await rig.make(CreateRequest("vs-small", "web-1", request_id="req-web-1"))
    assert outcome.ok, outcome.error
    chosen = planned[0].chosen
    assert chosen is not None and len(planned[0].ranking) == 4  # DC0_H0 and the cluster's three

    vm = api_vm(api, "web-1")
    props = vf.read(api, vm, ["config.hardware.numCPU", "config.hardware.memoryMB",
                              "config.guestId", "config.template", "config.extraConfig",
                              "config.annotation", "runtime.powerState", "runtime.host",
                              "resourcePool", "customValue", "config.instanceUuid"])
    assert (props["config.hardware.numCPU"], props["config.hardware.memoryMB"]) == (2, 256)
    assert props["config.guestId"] == GUEST_ID and not props["config.template"]  # from the template
    assert props["runtime.powerState"] == "poweredOn"
    host = vf.read(api, props["runtime.host"], ["name", "parent"])
    assert host["name"] == chosen.host.name
    # In the root resource pool of the chosen host's cluster (or standalone host).
    assert props["resourcePool"]._moId == vf.read(api, host["parent"], ["resourcePool"])[
        "resourcePool"]._moId
    assert {o.key: o.value for o in props["config.extraConfig"]}[REQUEST_KEY] == "req-web-1"
    assert TEMPLATE_VM in props["config.annotation"]
    fields = {f.key: f.name for f in vf.read(api, api.content.customFieldsManager, ["field"])["field"]}
    assert {(fields[v.key], v.value) for v in props["customValue"]} == {("role", "web")}

    assert outcome.value.id == props["config.instanceUuid"] and outcome.value.host == chosen.host.name
    listed = next(v for v in (await rig.fleet.poll_once()).vms if v.name == "web-1")
    assert "role=web" in listed.tags and listed.vcpus == 2
    assert await rig.audit("web-1") == [
        ("vm.create", "ok"), ("vm.create.name", "ok"), ("vm.create.placement", "ok"),
        ("vm.create.clone", "ok"), ("vm.create.host", "ok"), ("vm.create.config", "ok"),
        ("vm.create.tags", "ok"),
        ("vm.create.power on", "ok")]


async def test_the_same_request_twice_makes_one_vm(rig: Rig, api: Any) -> None:
    request = CreateRequest("vs-small", "twice", request_id="req-twice")
    _, (first,) = await rig.make(request)
    _, (second,) = await rig.make(request)
    assert first.ok and second.ok, (first.error, second.error)
    assert first.value.id == second.value.id
    assert len(api_vms(api, "twice")) == 1
    assert ("vm.create.request", "ok") in await rig.audit("twice")
    # Another request for the name is a clash, not a second VM.
    _, (other,) = await rig.make(CreateRequest("vs-small", "twice", request_id="another"))
    assert other.error is not None and other.error.kind is Code.NAME_TAKEN
    assert len(api_vms(api, "twice")) == 1


async def test_a_failure_after_the_clone_destroys_it(rig: Rig, api: Any) -> None:
    """Someone powers the new VM on between our steps: vCenter refuses our power-on
    (InvalidPowerState), and the clone is powered off and destroyed."""

    def intrude(_vm: str, step: str, status: str, _detail: str) -> None:
        if (step, status) == ("tags", "ok"):
            vf.wait_task(api_vm(api, "doomed").PowerOnVM_Task())

    _, (outcome,) = await rig.make(CreateRequest("vs-small", "doomed"), on_step=intrude)
    assert outcome.status == "failed" and outcome.error is not None
    assert outcome.error.kind is Code.INVALID_STATE and "InvalidPowerState" in outcome.error.cause
    assert api_vms(api, "doomed") == []  # vCenter lists no such VM any more
    assert await rig.audit("doomed") == [
        ("vm.create", "failed"), ("vm.create.name", "ok"), ("vm.create.placement", "ok"),
        ("vm.create.clone", "ok"), ("vm.create.host", "ok"), ("vm.create.config", "ok"),
        ("vm.create.tags", "ok"),
        ("vm.create.power on", "failed"), ("vm.create.clone.undo", "ok")]


async def test_a_template_that_does_not_exist_is_named(rig: Rig, api: Any, sim: vf.Vcsim) -> None:
    rig.context = context_for(sim).model_copy(update={"templates": {
        "gone": context_for(sim).templates["vs-small"].model_copy(
            update={"template_vm": "no-such-template"})}})
    before = len(vf.all_of(api, vim.VirtualMachine, ["name"]))
    _, (outcome,) = await rig.make(CreateRequest("gone", "nothing"))
    assert outcome.error is not None and outcome.error.kind is Code.CONFIG_INVALID
    assert "no-such-template" in str(outcome.error)
    assert len(vf.all_of(api, vim.VirtualMachine, ["name"])) == before


def sizes(api: Any, name: str) -> tuple[int, int]:
    props = vf.read(api, api_vm(api, name), ["config.hardware.numCPU", "config.hardware.memoryMB"])
    return props["config.hardware.numCPU"], props["config.hardware.memoryMB"]


async def test_resize_live_only_with_hot_add(rig: Rig, api: Any) -> None:
    _, (made,) = await rig.make(CreateRequest("vs-small", "rs-1"))
    assert made.ok, made.error
    vm = made.value

    refused = await rig.dispatcher.run(resize_request(vm, vcpus=4, origin="test"))
    assert refused.error is not None and refused.error.kind is Code.INVALID_STATE
    assert "power it off first" in refused.error.cause and "CPU hot-add" in refused.error.cause
    assert sizes(api, "rs-1") == (2, 256)  # nothing changed

    api_ref = api_vm(api, "rs-1")  # what an admin does in vSphere: off, enable hot-add, on
    vf.wait_task(api_ref.PowerOffVM_Task())
    vf.wait_task(api_ref.ReconfigVM_Task(vim.vm.ConfigSpec(cpuHotAddEnabled=True,
                                                           memoryHotAddEnabled=True)))
    vf.wait_task(api_ref.PowerOnVM_Task())
    live = await rig.dispatcher.run(resize_request(vm, vcpus=4, memory_bytes=512 * 2**20,
                                                   origin="test"))
    assert live.ok and live.value.live, (live.error, live.value)
    assert sizes(api, "rs-1") == (4, 512)

    shrink = await rig.dispatcher.run(resize_request(vm, memory_bytes=256 * 2**20, origin="test"))
    assert shrink.error is not None and "cannot remove memory" in shrink.error.cause
    assert sizes(api, "rs-1") == (4, 512)

    vf.wait_task(api_ref.PowerOffVM_Task())
    off = await rig.dispatcher.run(resize_request(vm, vcpus=1, memory_bytes=128 * 2**20,
                                                  origin="test"))
    assert off.ok and not off.value.live and "applied when it starts" in off.value.note
    assert sizes(api, "rs-1") == (1, 128)
    rows = [(e.action, e.status.value) for e in await rig.store.audit(limit=4)]
    assert rows == [("vm.resize", "ok"), ("vm.resize", "failed"), ("vm.resize", "ok"),
                    ("vm.resize", "failed")]


async def test_read_only_refuses_create_and_resize(sim: vf.Vcsim, api: Any, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VSPHERE_USER", sim.user)
    monkeypatch.setenv("VSPHERE_PASSWORD", sim.password)
    rig = await open_rig(sim, tmp_path, read_only=True)
    try:
        _, (made,) = await rig.make(CreateRequest("vs-small", "ro-1"))
        assert made.status == "refused" and made.error is not None
        assert made.error.kind is Code.READ_ONLY
        vm = next(v for v in (await rig.fleet.poll_once()).vms if v.name == "DC0_H0_VM0")
        resized = await rig.dispatcher.run(resize_request(vm, vcpus=3, origin="test"))
        assert resized.status == "refused"
        rows = [(e.action, e.target_name, e.status.value) for e in await rig.store.audit(limit=5)]
        assert rows == [("vm.resize", "DC0_H0_VM0", "refused"), ("vm.create", "ro-1", "refused")]
    finally:
        await rig.fleet.stop()
        await rig.store.close()
    assert api_vms(api, "ro-1") == [] and sizes(api, "DC0_H0_VM0")[0] == 1


def test_cli_lists_the_template_and_creates_from_it(sim: vf.Vcsim, api: Any,
                                                    tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f"""
[contexts.vs]
[[contexts.vs.backends]]
kind = "vsphere"
name = "vc"
host = "{sim.host}"
ca_file = "{sim.ca_file}"
[contexts.vs.templates.vs-small]
kind = "vsphere"
vcpus = 2
memory = "256MiB"
template_vm = "{TEMPLATE_VM}"
""")
    env = {**os.environ, "NOVACRON_CONFIG": str(config), "NOVACRON_STATE_DIR": str(tmp_path),
           "VSPHERE_USER": sim.user, "VSPHERE_PASSWORD": sim.password}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(Path(sys.executable).with_name("novacron")), "--context", "vs",
                               *args], capture_output=True, text=True, env=env, timeout=120)

    listed = cli("template", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(t["name"], t["kind"], t["source"]) for t in json.loads(listed.stdout)] == [
        ("vs-small", "vsphere", TEMPLATE_VM)]
    made = cli("vm", "create", "--template", "vs-small", "--name", "cli-1", "--json")
    assert made.returncode == 0, made.stderr
    (row,) = json.loads(made.stdout)
    assert row["status"] == "ok" and row["result"]["name"] == "cli-1"
    props = vf.read(api, api_vm(api, "cli-1"), ["runtime.powerState", "config.hardware.numCPU"])
    assert (props["runtime.powerState"], props["config.hardware.numCPU"]) == ("poweredOn", 2)


async def test_a_disk_size_asked_of_a_clone_is_said_not_applied(rig: Rig, api: Any) -> None:
    """vSphere does not grow a clone's disks yet: a size asked for is said in the audit (and
    the New VM form's progress), not silently dropped."""
    _, (outcome,) = await rig.make(CreateRequest("vs-small", "disk-1", disk_bytes=20 * 2**30))
    assert outcome.ok, outcome.error
    rows = [e for e in reversed(await rig.store.audit(limit=100))
            if e.target_name == "disk-1" and e.action == "vm.create.disk"]
    assert len(rows) == 1 and "20 GiB asked, not applied" in rows[0].params_json, rows
