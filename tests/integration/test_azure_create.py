"""Creating Azure VMs from a template, against Azure's own recorded ARM traffic.

The playback server serves what azure-sdk-assets recorded when the SDK's tests made a network
interface and a VM (interface PUT → poll → GET; VM PUT 201 → InProgress → Succeeded → GET) plus
marked hand-made entries (the resource group's listings, a refused PUT, a failed operation, the
interface's DELETE, the subscription's interface and public IP lists). The real aio client
drives the backend through the dispatcher with a real Store; the tests check what was sent
(the exact request bodies), how often, and what the audit says.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from backends.azure.backend import AzureBackend
from backends.azure.lro import Operation
from backends.azure.source import AzureSource
from backends.azure.template import AzureTemplate
from backends.base import saga_steps
from console.actions.dispatcher import Dispatcher, Outcome, Request, Target
from console.actions.registry import CREATE
from console.actions.resume import resume_unfinished
from console.cli.common import vm_json
from console.errors import Code
from console.models import VMState
from console.provision.saga import StepAudit
from console.store import Store, open_store
from tests.integration.azure_playback import (
    RECORDED_VM,
    SUBSCRIPTION,
    Playback,
    StaticToken,
    source_fields,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

VM_NAME = "virtualmachinexeb772750"
GROUP = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rgname/providers"
SUBNET = f"{GROUP}/Microsoft.Network/virtualNetworks/networknamexeb772750/subnets/subnetxeb772750"
NIC = f"{GROUP}/Microsoft.Network/networkInterfaces/interfacexeb772750"
REQUEST_ID = "azure-create-1"  # the tag the hand-made listing after the recorded PUT shows
GIB = 2**30
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIb3Xq2Zr5kq0Xh0n7o0t3Cq1s6x9Q2mS1wq1yq1yq1y op@desk"


def source(playback: Playback) -> AzureSource:
    return AzureSource(**source_fields(playback))


@pytest.fixture
async def azure(playback: Playback) -> AsyncIterator[AzureBackend]:
    backend = AzureBackend(source(playback), credential=StaticToken())
    yield backend
    await backend.close()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(tmp_path / "novacron.db") as opened:
        yield opened


@pytest.fixture
def template(tmp_path: Path) -> dict[str, Any]:
    key = tmp_path / "id_ed25519.pub"
    key.write_text(KEY + "\n", encoding="utf-8")
    return AzureTemplate(image="Canonical:ubuntu-24_04-lts:server:latest", resource_group="rgname",
                         location="eastus", subnet_id=SUBNET, nic_name="interfacexeb772750",
                         admin_user="ops", ssh_public_key=str(key)).model_dump()


async def create(backend: AzureBackend, store: Store, template: dict[str, Any], *,
                 request_id: str = REQUEST_ID) -> Outcome:
    """One `vm.create` through the dispatcher, each step audited as `vm.create` runs it."""
    door = Dispatcher({backend.name: backend}, audit=store, context="azure", read_only=False)
    target = Target(backend.name, f"new:{VM_NAME}", VM_NAME)
    saga_steps.set(StepAudit(store, "azure", target, CREATE))
    params = {"name": VM_NAME, "vcpus": 2, "memory_bytes": 7 * GIB, "disk_bytes": 0,
              "host": "", "template": template, "tags": ["role=web"], "request_id": request_id}
    return await door.run(Request(CREATE, target, params, origin="test"))


async def steps(store: Store) -> list[tuple[str, str]]:
    return [(e.action, e.status.value) for e in reversed(await store.audit(limit=50))
            if e.target_name == VM_NAME]


def sent(playback: Playback, method: str, path_part: str) -> list[Any]:
    return [json.loads(s.body) if s.body else None
            for s in playback.requests(method, path_part)]


TAGS = {"role": "web", "novacron-request-id": REQUEST_ID}
NIC_BODY = {"location": "eastus", "tags": TAGS, "properties": {"ipConfigurations": [
    {"name": "ipconfig1", "properties": {"subnet": {"id": SUBNET}}}]}}
VM_BODY = {
    "location": "eastus",
    "tags": TAGS,
    "properties": {
        "hardwareProfile": {"vmSize": "Standard_D2_v2"},  # smallest eastus size with 2 vCPU, 7 GiB
        "storageProfile": {
            "imageReference": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts",
                               "sku": "server", "version": "latest"},
            "osDisk": {"createOption": "FromImage", "deleteOption": "Delete"}},
        "osProfile": {
            "computerName": VM_NAME, "adminUsername": "ops",
            "linuxConfiguration": {"disablePasswordAuthentication": True, "ssh": {"publicKeys": [
                {"path": "/home/ops/.ssh/authorized_keys", "keyData": KEY}]}}},
        "networkProfile": {"networkInterfaces": [
            {"id": NIC, "properties": {"primary": True, "deleteOption": "Delete"}}]},
    },
}


async def test_create_makes_the_interface_then_follows_the_vm_put_to_its_end(
        azure: AzureBackend, playback: Playback, store: Store, template: dict[str, Any]) -> None:
    seen: list[Operation] = []
    azure.watch_operations(seen.append)
    outcome = await create(azure, store, template)
    assert outcome.ok, outcome.error
    vm = outcome.value
    assert (vm.id, vm.name, vm.state, vm.host) == (RECORDED_VM, VM_NAME, VMState.RUNNING, "eastus")
    assert (vm.vcpus, vm.memory_bytes) == (2, 7 * GIB)
    assert {"role=web", f"novacron-request-id={REQUEST_ID}"} <= set(vm.tags)

    assert sent(playback, "PUT", "/networkInterfaces/") == [NIC_BODY]
    assert sent(playback, "PUT", "/virtualMachines/") == [VM_BODY]
    polls = playback.requests("GET", "/operations/c20f1c73")
    assert [p.status for p in polls] == [200, 200]  # InProgress, Succeeded (recorded)
    assert [(op.action, op.status) for op in seen] == [("create", "InProgress"),
                                                       ("create", "Succeeded")]
    assert seen[0].token and seen[0].vm_id == RECORDED_VM
    assert await steps(store) == [
        ("vm.create", "ok"), ("vm.create.name", "ok"), ("vm.create.size", "ok"),
        ("vm.create.nic", "ok"), ("vm.create.vm", "ok")]
    assert playback.unmatched == []


async def test_the_same_request_id_returns_the_vm_without_a_second_put(
        azure: AzureBackend, playback: Playback, store: Store, template: dict[str, Any]) -> None:
    first = await create(azure, store, template)
    second = await create(azure, store, template)
    assert first.ok and second.ok, (first.error, second.error)
    assert second.value.id == first.value.id == RECORDED_VM
    assert len(playback.requests("PUT", "/virtualMachines/")) == 1
    assert len(playback.requests("PUT", "/networkInterfaces/")) == 1
    assert ("vm.create.request", "ok") in await steps(store)
    # Another request for the same name is a clash, not a second PUT.
    other = await create(azure, store, template, request_id="another-request")
    assert other.error is not None and other.error.kind is Code.NAME_TAKEN
    assert len(playback.requests("PUT", "/virtualMachines/")) == 1


async def test_a_refused_put_deletes_the_interface_it_made(
        azure: AzureBackend, playback: Playback, store: Store, template: dict[str, Any]) -> None:
    playback.inject("create-sku-not-available")  # hand-made 409 SkuNotAvailable
    outcome = await create(azure, store, template)
    assert outcome.error is not None and outcome.error.kind is Code.INSUFFICIENT_RESOURCES
    assert "SkuNotAvailable" in outcome.error.cause
    assert [s.path for s in playback.requests("DELETE")] == [NIC]  # the compensation
    assert playback.requests("DELETE", "/virtualMachines/") == []  # Azure made no VM
    assert await steps(store) == [
        ("vm.create", "failed"), ("vm.create.name", "ok"), ("vm.create.size", "ok"),
        ("vm.create.nic", "ok"), ("vm.create.vm", "failed"), ("vm.create.nic.undo", "ok")]


async def test_a_vm_that_failed_after_it_was_accepted_is_deleted_before_its_interface(
        azure: AzureBackend, playback: Playback, store: Store, template: dict[str, Any]) -> None:
    playback.inject("create-failed")  # hand-made: the first status poll says Failed
    outcome = await create(azure, store, template)
    assert outcome.error is not None and "OSProvisioningTimedOut" in outcome.error.cause
    deletes = [s.path.rsplit("/", 2)[-2] for s in playback.requests("DELETE")]
    assert deletes == ["virtualMachines", "networkInterfaces"]  # the VM first, then its NIC
    assert len(playback.requests("GET", "/operations/7809f775")) >= 1  # recorded delete LRO
    assert await steps(store) == [
        ("vm.create", "failed"), ("vm.create.name", "ok"), ("vm.create.size", "ok"),
        ("vm.create.nic", "ok"), ("vm.create.vm", "failed"), ("vm.create.vm.undo", "ok"),
        ("vm.create.nic.undo", "ok")]


async def test_a_console_restarted_mid_create_resumes_the_put_from_its_token(
        playback: Playback, store: Store, template: dict[str, Any]) -> None:
    first = AzureBackend(source(playback), credential=StaticToken())
    gate = playback.hold("/operations/c20f1c73")  # the create's first status poll waits
    running = asyncio.create_task(create(first, store, template))
    assert await asyncio.to_thread(gate.arrived.wait, 20)
    running.cancel()  # the console dies while Azure is still making the VM
    with pytest.raises(asyncio.CancelledError):
        await running
    gate.release()
    await first.close()
    assert playback.requests("DELETE") == []  # the VM being made keeps its interface
    assert ("vm.create.nic.undo", "failed") in await steps(store)
    [left] = await store.resumable_actions("azure", 0.0)
    assert (left.entry.action, left.operation) == ("vm.create", f"create:{RECORDED_VM}")

    second = AzureBackend(source(playback), credential=StaticToken())
    try:
        [resumed] = await resume_unfinished(
            Dispatcher({second.name: second}, audit=store, context="azure", read_only=False))
    finally:
        await second.close()
    assert resumed.error is None, resumed.error
    row = await store.audit_entry(left.entry.id)
    assert row is not None and row.status.value == "ok"
    assert len(playback.requests("PUT", "/virtualMachines/")) == 1  # followed, never re-sent


async def test_read_only_and_a_missing_key_are_refused_before_anything_is_sent(
        playback: Playback, store: Store, template: dict[str, Any]) -> None:
    ro = AzureBackend(source(playback), credential=StaticToken(), read_only=True)
    try:
        outcome = await create(ro, store, template)
        assert outcome.error is not None and outcome.error.kind is Code.READ_ONLY
    finally:
        await ro.close()
    backend = AzureBackend(source(playback), credential=StaticToken())
    try:
        outcome = await create(backend, store, {**template, "ssh_public_key": "/nonexistent.pub"})
        assert outcome.error is not None and outcome.error.kind is Code.CONFIG_INVALID
        assert "ssh-keygen" in outcome.error.cause
    finally:
        await backend.close()
    assert playback.requests("PUT") == []


async def test_listed_vms_carry_their_private_and_public_ips_from_two_bulk_lists(
        azure: AzureBackend, playback: Playback) -> None:
    by_name = {vm.name: vm for vm in await azure.vms()}
    assert by_name[VM_NAME].addresses == ("10.0.0.4", "20.62.133.7")
    assert by_name["web-01"].addresses == ("10.1.0.5",)
    assert by_name["db-01"].addresses == ()  # no interface listed for it
    printed = json.loads(json.dumps(vm_json(by_name[VM_NAME])))  # as `vm list --json` prints it
    assert printed["addresses"] == ["10.0.0.4", "20.62.133.7"]
    assert len(playback.requests("GET", "/networkInterfaces")) == 1
    assert len(playback.requests("GET", "/publicIPAddresses")) == 1
    await azure.vms()  # the next poll within addresses_refresh_s lists no addresses again
    assert len(playback.requests("GET", "/networkInterfaces")) == 1
    assert len(playback.requests("GET", "/virtualMachines")) == 4  # two pages, twice
