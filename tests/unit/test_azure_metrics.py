"""Azure Monitor answers → console points. No recording of VM metrics exists in
azure-sdk-assets (its querymetrics recordings query Application Insights, not VMs), so only the
translation is tested here: the input is a `metrics:getBatch` body in ARM's wire shape, turned
into the SDK's result objects the way the client does (`MetricsQueryResult._from_generated`)."""

from __future__ import annotations

from typing import Any

from azure.monitor.querymetrics import MetricsQueryResult

from backends.azure.inventory import region_of
from backends.azure.metrics import RECIPES, resource_of, to_points
from console.models import VM, VMState

VM_ID = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/"
         "Microsoft.Compute/virtualMachines/web-01")
WEB = VM(id=VM_ID, name="web-01", state=VMState.RUNNING, host="eastus-1", backend="az",
         vcpus=4, memory_bytes=16 * 2**30)


def metric(name: str, points: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": f"{VM_ID}/providers/Microsoft.Insights/metrics/{name}",
            "type": "Microsoft.Insights/metrics", "name": {"value": name, "localizedValue": name},
            "unit": "Percent", "timeseries": [{"metadatavalues": [], "data": points}]}


def result(*metrics: dict[str, Any]) -> Any:
    return MetricsQueryResult._from_generated({
        "starttime": "2025-07-20T09:36:00Z", "endtime": "2025-07-20T09:39:00Z",
        "interval": "PT1M", "value": list(metrics),
        "namespace": "Microsoft.Compute/virtualMachines", "resourceregion": "eastus"})


def test_cpu_percentage_becomes_cores_and_missing_minutes_are_left_out() -> None:
    answer = result(metric("Percentage CPU", [
        {"timeStamp": "2025-07-20T09:36:00Z", "average": 50.0},
        {"timeStamp": "2025-07-20T09:37:00Z", "average": 25.0},
        {"timeStamp": "2025-07-20T09:38:00Z"}]))  # not aggregated yet
    points = to_points(answer, RECIPES["cpu"], WEB)
    assert [v for _, v in points] == [2.0, 1.0]  # of 4 vCPUs
    assert points[1][0] - points[0][0] == 60.0
    assert resource_of(answer) == VM_ID.lower()


def test_network_in_and_out_per_minute_become_bytes_per_second() -> None:
    answer = result(
        metric("Network In Total", [{"timeStamp": "2025-07-20T09:36:00Z", "total": 6000.0}]),
        metric("Network Out Total", [{"timeStamp": "2025-07-20T09:36:00Z", "total": 1200.0}]),
        metric("Percentage CPU", [{"timeStamp": "2025-07-20T09:36:00Z", "average": 99.0}]))
    assert [v for _, v in to_points(answer, RECIPES["net"], WEB)] == [120.0]


def test_memory_used_is_size_minus_available() -> None:
    answer = result(metric("Available Memory Bytes", [
        {"timeStamp": "2025-07-20T09:36:00Z", "average": float(12 * 2**30)}]))
    assert [v for _, v in to_points(answer, RECIPES["memory"], WEB)] == [4.0 * 2**30]


def test_regions_of_host_names() -> None:
    assert [region_of(h) for h in ("eastus-1", "eastus2", "eastus2-3", "westeurope")] == [
        "eastus", "eastus2", "eastus2", "westeurope"]
