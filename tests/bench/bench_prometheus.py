"""Benchmark: the 100,000-VM inventory from Prometheus, batched vs one query per host.

Against a real Prometheus backfilled with 2,000 hosts and 100,000 VMs (the libvirt exporter's
series), behind a counting HTTP proxy so queries and bytes are measured on the wire:

- ours: `PrometheusBackend.hosts()` + `vms()`, 7 batched instant queries;
- baseline: what a per-host poller does, one instant query per host (2,000) fetching that
  host's state, vCPU and memory series, through the same client and thread pool.

`run()` returns rows of (label, ours, baseline); the bench runner prints them side by side.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from backends.prometheus import PrometheusBackend, matcher
from backends.prometheus import parse as prom_parse
from console.models import VM

try:
    from tests.integration import prometheus_fixture as pf
except ImportError:  # run from outside the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
    import prometheus_fixture as pf  # type: ignore[no-redef]

PER_HOST = ('{{__name__=~"libvirt_domain_state_code|libvirt_domain_info_virtual_cpus|'
            'libvirt_domain_info_maximum_memory_bytes",{match}}}')


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


async def _batched(backend: PrometheusBackend) -> tuple[int, int]:
    hosts, vms = await asyncio.gather(backend.hosts(), backend.vms())
    return len(hosts), len(vms)


async def _per_host(backend: PrometheusBackend, fleet: pf.Fleet) -> tuple[int, int]:
    """One query per host, then the same join the batched path does."""
    names = [fleet.host_name(h) for h in range(fleet.hosts)]
    answers = await asyncio.gather(*(
        backend.client.instant(PER_HOST.format(match=matcher(instance=n))) for n in names))

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
                memory=by_metric["libvirt_domain_info_maximum_memory_bytes"])
        return vms

    return len(names), len(await asyncio.to_thread(shape))


async def _one(url: str, measure: str, fleet: pf.Fleet, traffic: pf.Traffic
               ) -> tuple[int, int, int, float, float]:
    """(hosts, VMs, decoded bytes, seconds, worst stall) of one way of listing, after a warm-up."""
    backend = PrometheusBackend("bench", url, inventory=True, timeout_s=30)

    def listing() -> Any:
        return _batched(backend) if measure == "batched" else _per_host(backend, fleet)

    try:
        await listing()  # warm Prometheus' caches and the connection pool
        before = backend.stats.bytes
        (hosts, vms), seconds, stall = await _measure(listing, traffic)
        return hosts, vms, backend.stats.bytes - before, seconds, stall
    finally:
        await backend.close()


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
    label = f"prometheus inventory, {ours[0]:,} hosts / {ours[1]:,} VMs"
    (oq, ow), (bq, bw) = counted["batched"], counted["per_host"]
    return [
        (f"{label}: HTTP queries", f"{oq:,}", f"{bq:,}"),
        (f"{label}: bytes on the wire (gzip)", f"{ow / 1e6:.2f} MB", f"{bw / 1e6:.2f} MB"),
        (f"{label}: bytes decoded", f"{ours[2] / 1e6:.1f} MB", f"{base[2] / 1e6:.1f} MB"),
        (f"{label}: seconds to the full list", f"{ours[3]:.2f} s", f"{base[3]:.2f} s"),
        (f"{label}: longest event-loop stall", f"{ours[4] * 1000:.0f} ms",
         f"{base[4] * 1000:.0f} ms"),
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
