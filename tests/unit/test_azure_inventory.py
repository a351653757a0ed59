"""ARM documents (the JSON of a listing) → console models, and the Azure config entry: pure
logic, no server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from azure.mgmt.compute.models import VirtualMachineSize
from pydantic import ValidationError

from backends.azure.inventory import (
    ResourceId,
    SizeSpec,
    host_name,
    leftover_disks,
    size_from_arm,
    vm_from_arm,
    vm_state,
)
from backends.azure.resize import smallest_fit
from backends.azure.source import AzureSource
from console.config import load_settings, resolve_context
from console.errors import NovaError
from console.fleet.sources import build_backends, build_metrics
from console.models import VMState

VM_ID = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rgname/providers/"
         "Microsoft.Compute/virtualMachines/web-01")


def statuses(*codes: str) -> list[dict[str, Any]]:
    return [{"code": c} for c in codes]


@pytest.mark.parametrize(("codes", "expected"), [
    (("ProvisioningState/succeeded", "PowerState/running"), VMState.RUNNING),
    (("PowerState/starting",), VMState.PENDING),
    (("PowerState/stopping",), VMState.PENDING),
    (("PowerState/deallocating",), VMState.PENDING),
    (("PowerState/stopped",), VMState.STOPPED),
    (("PowerState/deallocated",), VMState.STOPPED),
    (("PowerState/deallocated", "HibernationState/Hibernated"), VMState.SUSPENDED),
    (("PowerState/somethingnew",), VMState.UNKNOWN),
    (("ProvisioningState/succeeded",), VMState.UNKNOWN),
])
def test_power_states(codes: tuple[str, ...], expected: VMState) -> None:
    assert vm_state(statuses(*codes)) is expected


def test_a_vm_being_created_without_instance_view_is_pending() -> None:
    assert vm_state(None, "Creating") is VMState.PENDING


def test_vm_from_arm_sanitises_and_sizes() -> None:
    doc = {
        "id": VM_ID, "name": "web-01\x1b[31m", "location": "eastus", "zones": ["2"],
        "tags": {"env": "prod\x07"},
        "properties": {"hardwareProfile": {"vmSize": "Standard_D2_v2"},
                       "instanceView": {"statuses": [{"code": "PowerState/stopped"}]},
                       "storageProfile": {"osDisk": {"name": "os", "diskSizeGB": 30,
                                                     "deleteOption": "Delete"}},
                       "timeCreated": "2024-08-01T08:08:26.7342415+00:00"}}
    vm = vm_from_arm(doc, backend="az",
                     sizes={"standard_d2_v2": SizeSpec(2, 7168 * 2**20)})
    assert vm.name == "web-01\N{REPLACEMENT CHARACTER}[31m"
    assert vm.host == "eastus-2" and vm.state is VMState.STOPPED
    assert (vm.vcpus, vm.memory_bytes) == (2, 7168 * 2**20)
    assert "env=prod\N{REPLACEMENT CHARACTER}" in vm.tags
    assert "azure:power=stopped" in vm.tags and "azure:size=Standard_D2_v2" in vm.tags
    assert vm.disks[0].capacity_bytes == 30 * 2**30
    assert vm.created_at == 1722499706.734241 and vm.key == f"az/{VM_ID}"


def test_unknown_size_leaves_capacity_unknown() -> None:
    doc = {"id": VM_ID, "name": "x", "location": "eastus",
           "properties": {"hardwareProfile": {"vmSize": "Standard_Z9"}}}
    vm = vm_from_arm(doc, backend="az", sizes={})
    assert (vm.vcpus, vm.memory_bytes, vm.state) == (0, 0, VMState.UNKNOWN)


def test_sizes_and_leftover_disks() -> None:
    name, spec = size_from_arm(VirtualMachineSize({"name": "Standard_D4s_v3",
                                                   "numberOfCores": 4, "memoryInMB": 16384}))
    assert (name, spec) == ("standard_d4s_v3", SizeSpec(4, 16 * 2**30, "Standard_D4s_v3"))
    storage = {
        "osDisk": {"name": "os", "deleteOption": "Delete", "managedDisk": {"id": "/d/os"}},
        "dataDisks": [{"lun": 0, "name": "data", "deleteOption": "Detach",
                       "managedDisk": {"id": "/d/data"}}]}
    assert leftover_disks(storage) == ["/d/data"]


def test_resource_id_and_host_names() -> None:
    rid = ResourceId.parse(VM_ID)
    assert (rid.subscription, rid.resource_group, rid.name) == (
        "00000000-0000-0000-0000-000000000000", "rgname", "web-01")
    with pytest.raises(ValueError, match="is not an Azure VM resource id"):
        ResourceId.parse("web-01")
    assert host_name("westeurope", None) == "westeurope"
    assert host_name("eastus", ["3"]) == "eastus-3"


def test_config_refuses_plain_http_and_non_ids() -> None:
    assert AzureSource(name="a").base_url == "https://management.azure.com"
    with pytest.raises(ValidationError, match="must be an https:// URL"):
        AzureSource(name="a", base_url="http://127.0.0.1:8080")
    with pytest.raises(ValidationError, match="is not a subscription id"):
        AzureSource(name="a", subscriptions=["/subscriptions/x"])
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        AzureSource(name="a", client_secret="nope")  # type: ignore[call-arg]


def test_a_config_file_opens_an_azure_source_without_signing_in(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[contexts.prod]\n[[contexts.prod.backends]]\nkind = "azure"\n'
                    'name = "azure-prod"\nsubscriptions = ["00000000-0000-0000-0000-000000000000"]'
                    '\nresource_groups = ["rg-web"]\ncredential = "cli"\n', encoding="utf-8")
    settings, _ = load_settings(path)
    name, context = resolve_context(settings, None)
    [backend] = build_backends(context, read_only=True)
    assert (name, backend.kind, backend.name) == ("prod", "azure", "azure-prod")
    assert type(backend._credential).__name__ == "AzureCliCredential"  # nothing asked yet
    assert [m.metrics_label for m in build_metrics(context)] == [backend.metrics_label]


def test_a_typo_in_an_azure_entry_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[contexts.prod]\n[[contexts.prod.backends]]\nkind = "azure"\n'
                    'subscription = ["00000000-0000-0000-0000-000000000000"]\n',
                    encoding="utf-8")
    with pytest.raises(NovaError) as caught:
        load_settings(path)
    assert "subscription" in str(caught.value) and "subscriptions" in str(caught.value)


def test_smallest_fit_prefers_fewest_vcpus_then_least_memory() -> None:
    sizes = [SizeSpec(2, 7 * 2**30, "Standard_D2_v2"), SizeSpec(2, 14 * 2**30, "Standard_D11_v2"),
             SizeSpec(4, 14 * 2**30, "Standard_D3_v2"), SizeSpec(4, 16 * 2**30, "Standard_D4s_v3"),
             SizeSpec(8, 28 * 2**30, "Standard_D4_v2")]
    cases = [((1, 1), "Standard_D2_v2"), ((2, 8 * 2**30), "Standard_D11_v2"),
             ((3, 0), "Standard_D3_v2"), ((4, 15 * 2**30), "Standard_D4s_v3"),
             ((2, 20 * 2**30), "Standard_D4_v2"), ((9, 0), None)]
    for (vcpus, memory), expected in cases:
        chosen = smallest_fit(sizes, vcpus, memory)
        assert (chosen.name if chosen else None) == expected, (vcpus, memory)
