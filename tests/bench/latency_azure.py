"""The latency bench's Azure row: the console over the HTTPS playback of ARM's traffic.

The Azure tests' own listing is small (the recorded VM and three hand-made ones, in two pages),
too small for the bench's rounds (five `j` moves need six rows) and no load at all. So the
playback (`tests/integration/azure_playback.py`, the tests' server) is given, ahead of its
recordings, a subscription listing of 10,000 VMs (1,000 with `NOVACRON_BENCH_QUICK=1`) in
pages of 1,000 linked by nextLink: the recorded VM's document copied as `bench_azure` makes
them (`vm-00000`…, three zones, a quarter deallocated). Everything else (sizes, metrics) is
the tests' recordings. The playback runs in this process (threads), as in the tests: each
poll it serialises ~16 MB of JSON on a thread of ours, a cost a real ARM would not put on the
console's process (it shows in the stall, not hidden from it). `bench_latency` picks this
module up (`NOVACRON_BENCH_LATENCY=azure`); the Azure SDK is imported only inside `open`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.bench.bench_latency import Case

VMS = 1000 if os.environ.get("NOVACRON_BENCH_QUICK") else 10_000
PAGE = 1000
ARM = "https://management.azure.com"


def listing_pages(subscription: str, vms: int, page: int = PAGE) -> list[dict[str, Any]]:
    """Playback entries for `GET …/virtualMachines?statusOnly=true`, `page` VMs each."""
    from tests.bench.bench_azure import documents

    docs = documents(vms)
    base = (f"{ARM}/subscriptions/{subscription}/providers/Microsoft.Compute/virtualMachines"
            "?api-version=2024-07-01&statusOnly=true")
    pages = []
    for n, start in enumerate(range(0, vms, page)):
        uri = base if n == 0 else f"{base}&%24skiptoken=bench{n}"
        body: dict[str, Any] = {"value": docs[start:start + page]}
        if start + page < vms:
            body["nextLink"] = f"{base}&%24skiptoken=bench{n + 1}"
        pages.append({"RequestMethod": "GET", "RequestUri": uri, "StatusCode": 200,
                      "ResponseHeaders": {"Content-Type": "application/json; charset=utf-8"},
                      "ResponseBody": body})
    return pages


async def _listed(backend: Any) -> int:
    try:
        return len(await backend.vms())
    finally:
        await backend.close()


def _open(stack: contextlib.ExitStack) -> tuple[Callable[[], list[Any]], int]:
    from backends.azure.backend import AzureBackend
    from backends.azure.source import AzureSource
    from tests.integration.azure_playback import (
        SUBSCRIPTION,
        StaticToken,
        load_entries,
        playback_server,
    )

    workdir = Path(tempfile.mkdtemp(prefix="nc-bench-latency-azure-"))
    stack.callback(shutil.rmtree, workdir, ignore_errors=True)
    entries = listing_pages(SUBSCRIPTION, VMS) + load_entries()
    playback = stack.enter_context(playback_server(workdir, entries))
    # As the tests build it, metrics too on the playback (the default is Azure's own host).
    source = AzureSource(name="azure", subscriptions=[SUBSCRIPTION], base_url=playback.base_url,
                         ca_bundle=playback.ca_file, poll_interval_s=0.05, timeout_s=60.0,
                         metrics_endpoint=f"{playback.base_url}/{{region}}")

    def backends() -> list[Any]:
        return [AzureBackend(source, credential=StaticToken())]

    listed = asyncio.run(_listed(backends()[0]))  # the sweep's size, and that the pages chain
    if listed != VMS:
        raise RuntimeError(f"the playback listed {listed} VMs, not {VMS}: {playback.unmatched[:3]}")
    return backends, listed


def cases() -> list[Case]:
    return [Case("azure", f"azure (ARM playback), {VMS:,} VMs in pages of {PAGE:,}", _open,
                 filter_text="vm-012")]
