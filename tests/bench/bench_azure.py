"""Benchmark: turning ARM's VM listing into the console's VMs, at fleet scale.

A subscription listing (`statusOnly=true`) comes back as pages of VM documents with their
instance views. Measured over 10,000 documents shaped like the recorded VM (1,000 with
--quick):

- ours: the listing's JSON page parsed and each document turned into a `VM` (`vm_from_arm`),
  what `AzureBackend.vms()` does with ARM's answer;
- baseline: the same page deserialised into the SDK's `VirtualMachine` models (what
  `virtual_machines.list_all()` costs before any translation): why the backend reads JSON.

Both include parsing the page's JSON (about a third of ours). The network is not measured:
a real ARM page of 1,000 VMs takes far longer to arrive than this translation takes.
"""

from __future__ import annotations

import copy
import json
import os
import time
from pathlib import Path
from typing import Any

from azure.mgmt.compute.models import VirtualMachine

from backends.azure.inventory import SizeSpec, vm_from_arm

RECORDING = (Path(__file__).resolve().parents[1] / "integration" / "recordings" / "azure"
             / "compute_vm.json")


def documents(n: int) -> list[dict[str, Any]]:
    recorded = json.loads(RECORDING.read_text())["Entries"][0]["ResponseBody"]
    out = []
    for i in range(n):
        doc = copy.deepcopy(recorded)
        doc["name"] = f"vm-{i:05d}"
        doc["id"] = doc["id"].rsplit("/", 1)[0] + f"/vm-{i:05d}"
        doc["zones"] = [str(1 + i % 3)]
        doc["properties"]["instanceView"] = {"statuses": [
            {"code": "ProvisioningState/succeeded"},
            {"code": "PowerState/running" if i % 4 else "PowerState/deallocated"}]}
        out.append(doc)
    return out


def run() -> list[tuple[str, str, str, str]]:
    n = 1_000 if os.environ.get("NOVACRON_BENCH_QUICK") else 10_000
    docs = documents(n)
    sizes = {"standard_d2_v2": SizeSpec(2, 7168 * 2**20)}

    body = json.dumps({"value": docs})

    started = time.perf_counter()
    models = [VirtualMachine(d) for d in json.loads(body)["value"]]
    sdk = time.perf_counter() - started

    started = time.perf_counter()
    vms = [vm_from_arm(d, backend="azure", sizes=sizes) for d in json.loads(body)["value"]]
    ours = time.perf_counter() - started
    assert len(vms) == len(models) == n
    verdict = "ok" if ours < sdk / 3 else "SLOW"
    return [(f"{n:,} ARM VM documents → VMs", f"{ours * 1000:.0f} ms ({ours / n * 1e6:.0f} µs/VM)",
             f"{sdk * 1000:.0f} ms SDK models ({sdk / n * 1e6:.0f} µs/VM)",
             f"under a third of the SDK's: {verdict}")]
