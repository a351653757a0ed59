"""Azure Monitor metrics through the real azure-monitor-querymetrics aio client, against the
playback server over HTTPS (`metrics_endpoint = https://127.0.0.1:PORT/{region}`).

No recording of VM metrics exists in azure-sdk-assets (its getBatch recordings query App
Insights components), so the answers are hand-made in that recorded shape
(`recordings/azure/monitor_metrics.json`, every entry marked). The server matches the request's
path (region included), query (namespace, metric names, aggregation, interval; not the moving
start and end) and body (the resource ids), so an entry answering proves what the client sent.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import pytest

from backends.azure.backend import AzureBackend
from backends.azure.source import AzureSource
from backends.base import SupportsMetrics
from console.errors import Code, NovaError
from tests.integration.azure_playback import (
    RECORDED_VM,
    SUBSCRIPTION,
    Playback,
    StaticToken,
    source_fields,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

WEB = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines"
RUNNING_EASTUS = {RECORDED_VM, f"{WEB}/web-01", f"{WEB}/web-02"}
"""The three running eastus VMs of the playback listing (db-01 is deallocated in westeurope)."""
GETBATCH = f"/eastus/subscriptions/{SUBSCRIPTION}/metrics:getBatch"
MIB = 2**20


def source(playback: Playback, **overrides: Any) -> AzureSource:
    return AzureSource(**source_fields(playback, **({
        "name": "az", "metrics_endpoint": f"{playback.base_url}/{{region}}"} | overrides)))


@pytest.fixture
async def azure(playback: Playback) -> AsyncIterator[AzureBackend]:
    backend = AzureBackend(source(playback), credential=StaticToken())
    yield backend
    await backend.close()


def batches(playback: Playback) -> list[Any]:
    return playback.requests("POST", "metrics:getBatch")


def query(served: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(served.query).items()}


def sent_ids(served: Any) -> list[str]:
    ids: list[str] = json.loads(served.body)["resourceids"]
    return ids


async def test_fleet_cpu_is_one_batch_per_region_in_cores(azure: AzureBackend,
                                                          playback: Playback) -> None:
    assert isinstance(azure, SupportsMetrics)
    samples = await azure.samples()
    again = await azure.samples()  # Azure aggregates per minute: not asked again at once

    cores = {s.target.partition("/")[2]: s.value for s in samples}
    assert cores == {RECORDED_VM: 0.4 * 2, f"{WEB}/web-01": 0.75 * 2, f"{WEB}/web-02": 0.1 * 2}
    assert {s.metric for s in samples} == {"vm_cpu_used"}
    assert all(s.target.startswith("vm:az/") for s in samples)
    assert again == samples
    (batch,) = batches(playback)
    assert batch.path == GETBATCH and batch.status == 200 and not playback.unmatched
    assert set(sent_ids(batch)) == RUNNING_EASTUS and len(sent_ids(batch)) <= 50
    asked = query(batch)
    assert (asked["metricnamespace"], asked["metricnames"], asked["aggregation"],
            asked["interval"]) == ("Microsoft.Compute/virtualMachines", "Percentage CPU",
                                   "average", "PT1M")
    start, end = (dt.datetime.fromisoformat(asked[k]) for k in ("starttime", "endtime"))
    assert end - start == dt.timedelta(minutes=15)
    assert abs(end.timestamp() - time.time()) < 120


async def test_charts_of_one_vm_in_the_consoles_units(azure: AzureBackend,
                                                      playback: Playback) -> None:
    target = f"vm:az/{RECORDED_VM}"
    cpu = await azure.series(target, "cpu", 900)
    memory = await azure.series(target, "memory", 900)
    net = await azure.series(target, "net", 900)
    disk = await azure.series(target, "disk", 900)

    # Percentage CPU * 2 vCPUs (Standard_D2_v2) / 100; the minute not aggregated yet is left out
    assert len(cpu) == 14 and cpu[0][1] == 0.25 and cpu[-1][1] == 0.8
    assert cpu[-1][0] - cpu[0][0] == 13 * 60
    assert max(v for _, v in cpu) == 1.25
    assert memory[-1][1] == (7168 - 4608) * MIB  # size minus Available Memory Bytes
    assert net[-1][1] == (3_000_000 + 600_000) / 60  # in + out per minute → bytes/s
    assert disk[-1][1] == (1_800_000 + 4_200_000) / 60
    assert len(memory) == len(net) == len(disk) == 14

    asked = [(query(b)["metricnames"], query(b)["aggregation"], sent_ids(b))
             for b in batches(playback)]
    assert asked == [("Percentage CPU", "average", [RECORDED_VM]),
                     ("Available Memory Bytes", "average", [RECORDED_VM]),
                     ("Network In Total,Network Out Total", "total", [RECORDED_VM]),
                     ("Disk Read Bytes,Disk Write Bytes", "total", [RECORDED_VM])]
    assert not playback.unmatched
    assert await azure.series("vm:az/no-such-vm", "cpu", 900) == []
    assert await azure.series(target, "gpu", 900) == []


async def test_a_refused_batch_says_what_to_fix_and_the_inventory_still_lists(
        azure: AzureBackend, playback: Playback) -> None:
    await azure.vms()
    playback.inject("metrics-forbidden-fleet")
    with pytest.raises(NovaError) as raised:
        await azure.samples()
    err = raised.value
    assert err.kind is Code.PERMISSION_DENIED
    assert "Azure Monitor metrics for eastus" in str(err)
    assert "AuthorizationFailed" in str(err) and "Microsoft.Insights/metrics/read" in str(err)
    assert "Monitoring Reader" in str(err)
    assert len(await azure.vms()) == 4


async def test_a_throttled_batch_is_retried_after_retry_after(playback: Playback) -> None:
    backend = AzureBackend(source(playback, retries=1), credential=StaticToken())
    try:
        playback.inject("metrics-throttled-fleet")
        samples = await backend.samples()
        assert len(samples) == 3
        assert [b.status for b in batches(playback)] == [429, 200]

        backend_again = AzureBackend(source(playback, retries=1), credential=StaticToken())
        playback.inject("metrics-throttled-fleet", times=2)
        try:
            with pytest.raises(NovaError) as raised:
                await backend_again.samples()
        finally:
            await backend_again.close()
        assert "throttled" in str(raised.value) and "Azure Monitor metrics for eastus" in str(
            raised.value)
        assert [b.status for b in batches(playback)] == [429, 200, 429, 429]
    finally:
        await backend.close()
