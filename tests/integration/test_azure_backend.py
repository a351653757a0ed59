"""The Azure backend against Azure's own recorded ARM traffic, through the real aio client.

The playback server (`azure_playback.py`) serves what azure-sdk-assets recorded for one VM
(power off, start, restart, deallocate, delete, each 202 → InProgress polls → Succeeded) plus
marked hand-made listing pages and ARM errors. Every action goes through the dispatcher with
a real Store; the tests check what the server was asked and what the listing says afterwards.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from azure.identity import CredentialUnavailableError

from backends.azure.backend import AzureBackend
from backends.azure.lro import Operation
from backends.azure.source import AzureSource
from backends.base import SupportsPower
from console.actions.dispatcher import Dispatcher, Request, Target
from console.actions.resume import resume_unfinished
from console.errors import Code, NovaError
from console.models import VMState
from console.store import Store, open_store
from tests.integration.azure_playback import (
    RECORDED_VM,
    REFUSED_SUBSCRIPTION,
    Playback,
    StaticToken,
    source_fields,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

VM_NAME = "virtualmachinexeb772750"
TARGET = Target("azure-test", RECORDED_VM, VM_NAME)


def source(playback: Playback, **overrides: Any) -> AzureSource:
    return AzureSource(**source_fields(playback, **overrides))


@pytest.fixture
async def azure(playback: Playback) -> AsyncIterator[AzureBackend]:
    backend = AzureBackend(source(playback), credential=StaticToken())
    yield backend
    await backend.close()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(tmp_path / "novacron.db") as opened:
        yield opened


def dispatcher(backend: AzureBackend, store: Store) -> Dispatcher:
    return Dispatcher({backend.name: backend}, audit=store, context="azure", read_only=False)


def state_of(vms: Any, name: str) -> VMState:
    return next(vm.state for vm in vms if vm.name == name)


async def test_listing_follows_next_link_and_reads_power_state_in_bulk(
        azure: AzureBackend, playback: Playback) -> None:
    vms = await azure.vms()
    assert sorted(vm.name for vm in vms) == ["db-01", VM_NAME, "web-01", "web-02"]
    by_name = {vm.name: vm for vm in vms}
    recorded = by_name[VM_NAME]
    assert recorded.id == RECORDED_VM and recorded.state is VMState.RUNNING
    assert (recorded.vcpus, recorded.memory_bytes) == (2, 7168 * 2**20)  # Standard_D2_v2
    assert recorded.host == "eastus" and by_name["web-01"].host == "eastus-1"
    assert by_name["db-01"].state is VMState.STOPPED
    assert "azure:power=deallocated" in by_name["db-01"].tags
    assert "azsecpack=nonprod" in recorded.tags
    listings = playback.requests("GET", "/virtualMachines")
    assert [("skiptoken" in s.query, "statusOnly=true" in s.query) for s in listings] == [
        (False, True), (True, True)]  # one call per page, each with the power states
    playback.reset()
    vms, hosts = await asyncio.gather(azure.vms(), azure.hosts())  # as the fleet polls
    assert sorted(h.name for h in hosts) == ["eastus", "eastus-1", "eastus-2", "westeurope"]
    assert len(playback.requests("GET", "/virtualMachines")) == 2  # one listing for both
    assert playback.requests("GET", "/vmSizes") == []  # sizes cached from the first poll
    assert playback.unmatched == []


async def test_power_off_is_followed_to_its_recorded_end(
        azure: AzureBackend, playback: Playback, store: Store) -> None:
    await azure.vms()
    seen: list[Operation] = []
    azure.watch_operations(seen.append)
    door = dispatcher(azure, store)
    outcome = await door.run(Request("vm.shutdown", TARGET, {"timeout_s": 60.0},
                                     confirmed=True))
    assert outcome.ok, outcome.error
    assert "still billed" in outcome.value
    polls = playback.requests("GET", "/operations/e42e9e55")
    assert [p.status for p in polls] == [200, 200, 200]  # InProgress, Succeeded, Location
    assert [op.status for op in seen] == ["InProgress", "Succeeded"]
    assert seen[0].token and seen[0].action == "power_off"
    assert state_of(await azure.vms(), VM_NAME) is VMState.STOPPED
    audit = await store.audit(limit=5)
    assert [(e.action, e.status.value) for e in audit] == [("vm.shutdown", "ok")]
    assert playback.unmatched == []


async def test_deallocate_then_start(azure: AzureBackend, playback: Playback,
                                     store: Store) -> None:
    note = await azure.deallocate(RECORDED_VM)
    assert "no longer billed" in note
    vms = await azure.vms()
    assert state_of(vms, VM_NAME) is VMState.STOPPED
    assert "azure:power=deallocated" in next(v.tags for v in vms if v.name == VM_NAME)
    outcome = await dispatcher(azure, store).run(Request("vm.start", TARGET))
    assert outcome.ok, outcome.error
    assert len(playback.requests("GET", "/operations/c505dc3a")) == 5  # 4 polls + Location
    assert state_of(await azure.vms(), VM_NAME) is VMState.RUNNING


async def test_restart_and_delete(azure: AzureBackend, playback: Playback,
                                  store: Store) -> None:
    door = dispatcher(azure, store)
    await azure.vms()
    reboot = await door.run(Request("vm.reboot", TARGET, confirmed=True))
    assert reboot.ok, reboot.error
    assert len(playback.requests("GET", "/operations/3bc03a81")) == 5
    delete = await door.run(Request("vm.delete", TARGET, typed_name=VM_NAME))
    assert delete.ok, delete.error
    assert any(d.endswith("/disks/myVMosdisk") for d in delete.value)  # Azure kept the disks
    assert VM_NAME not in [vm.name for vm in await azure.vms()]
    assert playback.unmatched == []


async def test_console_restarted_mid_operation_resumes_from_the_token(
        playback: Playback, store: Store) -> None:
    first = AzureBackend(source(playback), credential=StaticToken())
    tokens: list[str] = []
    first.watch_operations(lambda op: tokens.append(op.token))
    gate = playback.hold("/operations/c505dc3a")  # the start's first status poll waits
    running = asyncio.create_task(dispatcher(first, store).run(Request("vm.start", TARGET)))
    assert await asyncio.to_thread(gate.arrived.wait, 20)
    running.cancel()  # the console dies while Azure is still starting the VM
    with pytest.raises(asyncio.CancelledError):
        await running
    gate.release()
    await first.close()
    assert tokens, "the operation's continuation token was published before polling"

    second = AzureBackend(source(playback), credential=StaticToken())
    try:
        final = await second.resume_operation("start", RECORDED_VM, tokens[0])
        assert final.status == "Succeeded"
        assert len(playback.requests("POST", "/start")) == 1  # resumed, not started again
        assert state_of(await second.vms(), VM_NAME) is VMState.RUNNING
    finally:
        await second.close()
    audit = await store.audit(limit=5)
    assert audit[0].action == "vm.start" and audit[0].status.value == "failed"
    assert "stopped" in audit[0].error_message and "resumes" in audit[0].error_cause
    [left] = await store.resumable_actions("azure", 0.0)  # the next console resumes it
    assert (left.entry.id, left.operation, left.token) == (audit[0].id, "start", tokens[0])


async def test_resumed_operation_that_failed_records_azure_s_error_in_the_row(
        playback: Playback, store: Store) -> None:
    """A console quits mid-start; the next one resumes it and Azure says the start failed
    (hand-made AllocationFailed poll): the original row is failed with ARM's code."""
    first = AzureBackend(source(playback), credential=StaticToken())
    gate = playback.hold("/operations/c505dc3a")
    running = asyncio.create_task(dispatcher(first, store).run(Request("vm.start", TARGET)))
    assert await asyncio.to_thread(gate.arrived.wait, 20)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    gate.release()
    await first.close()
    for _ in range(500):  # the held poll is answered (before the failure is queued)
        if playback.requests("GET", "/operations/c505dc3a"):
            break
        await asyncio.sleep(0.02)
    [left] = await store.resumable_actions("azure", 0.0)

    playback.inject("start-failed")
    second = AzureBackend(source(playback), credential=StaticToken())
    seen: list[Operation] = []
    second.watch_operations(seen.append)
    try:
        [resumed] = await resume_unfinished(dispatcher(second, store))
    finally:
        await second.close()
    assert resumed.error is not None and resumed.error.kind is Code.INSUFFICIENT_RESOURCES
    row = await store.audit_entry(left.entry.id)
    assert row is not None and row.status.value == "failed"
    assert "AllocationFailed" in row.error_cause and row.error_code == "NOVA-3002"
    assert seen[-1].status == "Failed"
    assert len(playback.requests("POST", "/start")) == 1
    assert await store.resumable_actions("azure", 0.0) == []  # never resumed twice


async def test_throttled_listing_is_retried(azure: AzureBackend, playback: Playback) -> None:
    playback.inject("throttled-list", times=2)
    vms = await azure.vms()
    assert len(vms) == 4
    first_page = [s.status for s in playback.requests("GET", "/virtualMachines")
                  if "skiptoken" not in s.query]
    assert first_page == [429, 429, 200]


async def test_throttled_beyond_the_retries_says_so(playback: Playback) -> None:
    backend = AzureBackend(source(playback, retries=1), credential=StaticToken())
    playback.inject("throttled-list", times=3)
    try:
        with pytest.raises(NovaError) as caught:
            await backend.vms()
    finally:
        await backend.close()
    assert caught.value.kind is Code.BACKEND_ERROR
    assert "throttled" in caught.value.cause and "TooManyRequests" in caught.value.cause
    assert len(playback.requests("GET", "/virtualMachines")) == 2  # the call and one retry


async def test_missing_vm_and_forbidden_action_are_shown_clearly(
        azure: AzureBackend, store: Store) -> None:
    door = dispatcher(azure, store)
    ghost = Target("azure-test", RECORDED_VM.replace(VM_NAME, "ghost-vm"), "ghost-vm")
    missing = await door.run(Request("vm.shutdown", ghost, {"timeout_s": 60.0}, confirmed=True))
    assert missing.error is not None and missing.error.kind is Code.VM_NOT_FOUND
    assert missing.error.cause.startswith("ResourceNotFound: The Resource "
                                          "'Microsoft.Compute/virtualMachines/ghost-vm'")
    locked = Target("azure-test", RECORDED_VM.replace(VM_NAME, "locked-vm"), "locked-vm")
    refused = await door.run(Request("vm.start", locked))
    assert refused.error is not None and refused.error.kind is Code.PERMISSION_DENIED
    assert "AuthorizationFailed" in refused.error.cause
    assert "Virtual Machine Contributor" in refused.error.cause
    audit = await store.audit(limit=5)
    assert [(e.action, e.error_code) for e in audit] == [("vm.start", "NOVA-2003"),
                                                        ("vm.shutdown", "NOVA-3001")]


async def test_hibernate_refused_by_azure_is_an_invalid_state(azure: AzureBackend) -> None:
    assert isinstance(azure, SupportsPower)
    with pytest.raises(NovaError) as caught:
        await azure.suspend(RECORDED_VM)
    assert caught.value.kind is Code.INVALID_STATE
    assert caught.value.cause.startswith("OperationNotAllowed: Hibernation is not enabled")


async def test_refused_token_says_what_to_run(playback: Playback) -> None:
    backend = AzureBackend(source(playback, subscriptions=[REFUSED_SUBSCRIPTION]),
                           credential=StaticToken())
    try:
        with pytest.raises(NovaError) as caught:
            await backend.vms()
    finally:
        await backend.close()
    assert caught.value.kind is Code.PERMISSION_DENIED
    assert "InvalidAuthenticationToken" in caught.value.cause
    assert "az login" in caught.value.cause


class NoSignIn(StaticToken):
    async def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        raise CredentialUnavailableError("DefaultAzureCredential failed to retrieve a token "
                                         "from the included credentials.")


async def test_no_sign_in_says_what_to_run(playback: Playback) -> None:
    backend = AzureBackend(source(playback), credential=NoSignIn())
    try:
        with pytest.raises(NovaError) as caught:
            await backend.vms()
    finally:
        await backend.close()
    assert caught.value.kind is Code.PERMISSION_DENIED
    assert "`az login`" in caught.value.cause and "AZURE_CLIENT_ID" in caught.value.cause
    assert playback.requests() == []  # nothing was sent without a token


async def test_every_subscription_the_credential_sees(playback: Playback) -> None:
    backend = AzureBackend(source(playback, subscriptions=[]), credential=StaticToken())
    try:
        assert len(await backend.vms()) == 4
    finally:
        await backend.close()
    assert playback.requests("GET")[0].path == "/subscriptions"


GIB = 2**30


async def test_resize_picks_the_smallest_size_that_fits_and_follows_the_update(
        azure: AzureBackend, playback: Playback, store: Store) -> None:
    """4 vCPU / 14 GiB: Standard_D3_v2 (not D4s_v3, 16 GiB, nor D4_v2, 8 vCPU), sent as a
    PATCH of hardwareProfile.vmSize and followed (recorded 200 Updating → GET Succeeded)."""
    await azure.vms()
    seen: list[Operation] = []
    azure.watch_operations(seen.append)
    outcome = await dispatcher(azure, store).run(Request(
        "vm.resize", TARGET, {"vcpus": 4, "memory_bytes": 14 * GIB}))
    assert outcome.ok, outcome.error
    assert "Standard_D3_v2 (4 vCPU, 14 GiB)" in outcome.value.note
    [patch] = playback.requests("PATCH", "/virtualmachinexeb772750")
    assert json.loads(patch.body) == {"properties": {"hardwareProfile": {
        "vmSize": "Standard_D3_v2"}}}
    polls = [s for s in playback.requests("GET") if s.path.endswith("/virtualmachinexeb772750")]
    assert polls, "the update was followed to its end"
    assert [op.action for op in seen] and seen[-1].status == "Succeeded"
    assert [(e.action, e.status.value) for e in await store.audit(limit=5)] == [
        ("vm.resize", "ok")]
    assert playback.unmatched == []


async def test_resize_memory_only_keeps_the_vcpus_and_says_what_does_not_exist(
        azure: AzureBackend, playback: Playback, store: Store) -> None:
    await azure.vms()
    door = dispatcher(azure, store)
    grown = await door.run(Request("vm.resize", TARGET, {"memory_bytes": 14 * GIB}))
    assert grown.ok, grown.error
    assert "Standard_D11_v2 (2 vCPU, 14 GiB)" in grown.value.note  # still 2 vCPU
    too_big = await door.run(Request("vm.resize", TARGET, {"vcpus": 64}))
    assert too_big.error is not None and too_big.error.kind is Code.INSUFFICIENT_RESOURCES
    assert "largest is Standard_D4_v2 (8 vCPU, 28 GiB)" in too_big.error.cause
    assert len(playback.requests("PATCH")) == 1  # nothing sent for the impossible one


async def test_resize_that_needs_a_deallocate_says_so(
        azure: AzureBackend, playback: Playback, store: Store) -> None:
    await azure.vms()
    playback.inject("resize-needs-deallocate")
    outcome = await dispatcher(azure, store).run(Request("vm.resize", TARGET, {"vcpus": 8}))
    assert outcome.error is not None and outcome.error.kind is Code.INVALID_STATE
    assert "deallocate it (X), resize, then start it" in outcome.error.cause
    assert "OperationNotAllowed" in outcome.error.cause  # ARM's own code kept
    [patch] = playback.requests("PATCH")
    assert json.loads(patch.body)["properties"]["hardwareProfile"]["vmSize"] == "Standard_D4_v2"
