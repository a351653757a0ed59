"""Benchmark: the 100,000-VM inventory from Prometheus, batched vs one query per host.

Against a real Prometheus backfilled with 2,000 hosts and 100,000 VMs (the libvirt exporter's
series), behind a counting HTTP proxy so queries and bytes are measured on the wire:

- ours: `PrometheusBackend.hosts()` + `vms()`, 9 batched instant queries (hosts: up, CPUs,
  memory, available memory, CPU used; VMs: state, vCPUs, memory, CPU used);
- baseline: what a per-host poller does, one instant query per host (2,000) fetching that
  host's state, vCPU and memory series and its VMs' CPU rate, through the same client and
  thread pool.

Both use `prometheus_fixture.QUERIES` (the product's templates over the backfill's rate
window), so the CPU rate answers for every VM as it would on a live Prometheus.

`run()` returns rows of (label, ours, baseline); the bench runner prints them side by side.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from backends.prometheus import matcher
from backends.prometheus import parse as prom_parse
from backends.prometheus.backend import PrometheusBackend
from console.models import VM

try:
    from tests.integration import prometheus_fixture as pf
except ImportError:  # run from outside the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
    import prometheus_fixture as pf  # type: ignore[no-redef]

PER_HOST = ('{{__name__=~"libvirt_domain_state_code|libvirt_domain_info_virtual_cpus|'
            'libvirt_domain_info_maximum_memory_bytes",{match}}}'
            ' or label_replace({cpu}, "__name__", "vm_cpu_used", "", "")')
"""One host's gauges and its VMs' CPU rate (renamed so the answer splits by `__name__`)."""


class _Stall:
    """Longest gap between ticks of a 10 ms timer while a measurement runs."""

    def __init__(self) -> None:
        self.worst = 0.0

    async def watch(self, stop: asyncio.Event) -> None:
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            self.worst = max(self.worst, now - last - 0.01)
            last = now


async def _measure(coro_fn: Any, traffic: pf.Traffic) -> tuple[Any, float, float]:
    traffic.reset()
    stall, stop = _Stall(), asyncio.Event()
    watcher = asyncio.create_task(stall.watch(stop))
    started = time.perf_counter()
    result = await coro_fn()
    elapsed = time.perf_counter() - started
    stop.set()
    await watcher
    return result, elapsed, stall.worst


def _with_cpu(vms: list[VM]) -> int:
    return sum(1 for vm in vms if vm.cpu_used_cores is not None)


async def _batched(backend: PrometheusBackend) -> tuple[int, int, int]:
    hosts, vms = await asyncio.gather(backend.hosts(), backend.vms())
    return len(hosts), len(vms), _with_cpu(list(vms))


async def _per_host(backend: PrometheusBackend, fleet: pf.Fleet) -> tuple[int, int, int]:
    """One query per host, then the same join the batched path does."""
    names = [fleet.host_name(h) for h in range(fleet.hosts)]

    def query(name: str) -> str:
        match = matcher(instance=name)
        return PER_HOST.format(match=match, cpu=backend.queries.build("vm_cpu_used", match=match))

    answers = await asyncio.gather(*(backend.client.instant(query(n)) for n in names))

    def shape() -> list[VM]:  # off the loop, as the batched path does
        vms: list[VM] = []
        for vector in answers:
            by_metric: dict[str, prom_parse.Vector] = defaultdict(list)
            for labels, value in vector:
                by_metric[labels.get("__name__", "")].append((labels, value))
            vms += prom_parse.build_vms(
                backend=backend.name, host_label="instance",
                state=by_metric["libvirt_domain_state_code"],
                vcpus=by_metric["libvirt_domain_info_virtual_cpus"],
                memory=by_metric["libvirt_domain_info_maximum_memory_bytes"],
                cpu_used=by_metric["vm_cpu_used"])
        return vms

    vms = await asyncio.to_thread(shape)
    return len(names), len(vms), _with_cpu(vms)


async def _one(url: str, measure: str, fleet: pf.Fleet, traffic: pf.Traffic
               ) -> tuple[int, int, int, float, float, int]:
    """(hosts, VMs, decoded bytes, seconds, worst stall, VMs with a CPU rate) of one way of
    listing, after a warm-up."""
    # `pf.QUERIES`: rates over the backfill's window, so the CPU query answers for every VM.
    backend = PrometheusBackend("bench", url, inventory=True, timeout_s=30, queries=pf.QUERIES)

    def listing() -> Any:
        return _batched(backend) if measure == "batched" else _per_host(backend, fleet)

    try:
        await listing()  # warm Prometheus' caches and the connection pool
        before = backend.stats.bytes
        (hosts, vms, with_cpu), seconds, stall = await _measure(listing, traffic)
        return hosts, vms, backend.stats.bytes - before, seconds, stall, with_cpu
    finally:
        await backend.close()


async def _first_paint(url: str, fleet: pf.Fleet) -> float:
    """Seconds from starting the console (headless, 160x48, fresh state directory so nothing is
    restored) to its inventory holding every VM of the first sweep."""
    from console.app import NovaApp
    from console.fleet.polling import Fleet as Polling
    from screens.inventory import InventoryScreen

    backend = PrometheusBackend("bench", url, inventory=True, timeout_s=120, queries=pf.QUERIES)
    app = NovaApp(Polling("bench", [backend], interval_s=3600, timeout_s=300))
    state = tempfile.mkdtemp(prefix="nc-bench-state-")
    before = os.environ.get("NOVACRON_STATE_DIR")
    os.environ["NOVACRON_STATE_DIR"] = state
    try:
        started = time.perf_counter()
        async with app.run_test(size=(160, 48)) as pilot:
            while not (isinstance(app.screen, InventoryScreen)
                       and app.screen.table.row_count >= fleet.vm_count):
                await pilot.pause(0.05)
            return time.perf_counter() - started
    finally:
        if before is None:
            os.environ.pop("NOVACRON_STATE_DIR", None)
        else:
            os.environ["NOVACRON_STATE_DIR"] = before
        shutil.rmtree(state, ignore_errors=True)


async def _bench(direct: str, proxied: str, traffic: pf.Traffic, fleet: pf.Fleet
                 ) -> list[tuple[str, str, str]]:
    """Count queries and wire bytes through the proxy; time both ways straight to Prometheus
    (the proxy is Python in this process and would slow the 2,000-query way the most)."""
    counted = {}
    for way in ("batched", "per_host"):
        await _one(proxied, way, fleet, traffic)  # `_measure` reset the counters after warm-up
        counted[way] = (traffic.requests, traffic.bytes_in)
        traffic.reset()
    ours = await _one(direct, "batched", fleet, traffic)
    base = await _one(direct, "per_host", fleet, traffic)
    assert ours[1] == base[1] == fleet.vm_count, (ours, base)
    assert ours[5] == base[5] == fleet.vm_count, "every VM must carry its CPU rate"
    paint = await _first_paint(direct, fleet)
    label = f"prometheus inventory, {ours[0]:,} hosts / {ours[1]:,} VMs"
    (oq, ow), (bq, bw) = counted["batched"], counted["per_host"]
    return [
        (f"{label}: HTTP queries", f"{oq:,}", f"{bq:,}"),
        (f"{label}: bytes on the wire (gzip)", f"{ow / 1e6:.2f} MB", f"{bw / 1e6:.2f} MB"),
        (f"{label}: bytes decoded", f"{ours[2] / 1e6:.1f} MB", f"{base[2] / 1e6:.1f} MB"),
        (f"{label}: seconds to the full list", f"{ours[3]:.2f} s", f"{base[3]:.2f} s"),
        (f"{label}: longest event-loop stall", f"{ours[4] * 1000:.0f} ms",
         f"{base[4] * 1000:.0f} ms"),
        (f"{label}: seconds to the inventory's first paint (headless)", f"{paint:.2f} s", ""),
    ]


def run() -> list[tuple[str, str, str]]:
    """Backfill, start Prometheus and a counting proxy, measure both ways, stop everything."""
    fleet = pf.Fleet()
    with pf.backfilled_prometheus(fleet) as server, pf.counting_proxy(server.url) as (url, traffic):
        rows = asyncio.run(_bench(server.url, url, traffic, fleet))
        info = server.info
    rows.append((f"(setup: backfill of {int(info['samples']):,} samples, promtool "
                 f"{info['promtool_s']:.1f} s)", "", ""))
    return rows


if __name__ == "__main__":
    for row in run():
        print(" | ".join(row))
