"""vSphere at size: vcsim with 2 datacenters x 10 clusters x 20 hosts, 100 VMs per pool
(`-dc 2 -cluster 10 -host 20 -vm 100`: 402 hosts, 2,200 VMs), all on 127.0.0.1.

Rows (label, ours, baseline, verdict):
- one inventory poll (hosts() + vms(), one PropertyCollector retrieval), median of rounds, and
  the SOAP calls it makes, against reading the same properties attribute by attribute
  (measured on 30 VMs, scaled to the fleet): the way scripts usually walk pyVmomi;
- where a poll's time goes, from cProfile: reading and parsing the SOAP response into pyVmomi
  objects (`SoapResponseDeserializer.Deserialize`, of which the expat handlers are the Python
  part), shaping it into Hosts and VMs (`inventory.build`), the rest (request, server);
- the update stream: from a power-off made by another client (its task done) to `on_change`
  being called on our loop, over `NOVACRON_BENCH_ROUNDS` changes (default 20; quick: 5),
  against the same on vcsim's default inventory (8 VMs): vcsim answers a waiting
  WaitForUpdatesEx on a 250 ms tick, and its work per tick grows with the filter's objects;
- the poll each change triggers, answered from the inventory the stream patched (no retrieval)
  against a full poll;
- PerformanceManager: one `samples()` (cpu and memory of every host and running VM).
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import pstats
import statistics
import time
from typing import Any

from pyVmomi import vim

from backends.vsphere.backend import VsphereBackend
from backends.vsphere.session import Endpoint
from tests.bench import Skip
from tests.integration import vcsim_fixture as vf

SIZE = ("-dc", "2", "-cluster", "10", "-host", "20", "-vm", "100")
QUICK = os.environ.get("NOVACRON_BENCH_QUICK") == "1"
ROUNDS = int(os.environ.get("NOVACRON_BENCH_ROUNDS", "5" if QUICK else "20"))
TARGET_POLL_S = 2.0
TARGET_LATENCY_S = 1.0
NAIVE_SAMPLE = 30
NAIVE_PROPERTIES = ("name", "runtime.powerState", "runtime.host", "config.instanceUuid",
                    "config.hardware.numCPU", "config.hardware.memoryMB", "guest.ipAddress",
                    "summary.quickStats.overallCpuUsage")


def run() -> list[tuple[str, str, str, str]]:
    if not vf.VCSIM.exists():
        raise Skip(f"{vf.VCSIM} missing: `make setup test` builds it")
    with vf.running_vcsim() as small:
        os.environ["VSPHERE_USER"], os.environ["VSPHERE_PASSWORD"] = small.user, small.password
        small_delays = asyncio.run(_small_latency(small))
    with vf.running_vcsim(*SIZE) as sim:
        return asyncio.run(_bench(sim, small_delays))


async def _small_latency(sim: vf.Vcsim) -> list[float]:
    backend = VsphereBackend("vc", Endpoint("127.0.0.1", sim.port, ca_file=sim.ca_file))
    try:
        return await _latency(backend, sim, await backend.vms())
    finally:
        await backend.close()


async def _bench(sim: vf.Vcsim, small_delays: list[float]) -> list[tuple[str, str, str, str]]:
    backend = VsphereBackend("vc", Endpoint("127.0.0.1", sim.port, ca_file=sim.ca_file), timeout_s=120)
    rows: list[tuple[str, str, str, str]] = []
    try:
        hosts, vms = await asyncio.gather(backend.hosts(), backend.vms())  # log in, make views
        polls, calls = [], backend.stats.soap_calls
        for _ in range(3 if QUICK else 7):
            started = time.perf_counter()
            hosts, vms = await asyncio.gather(backend.hosts(), backend.vms())
            polls.append(time.perf_counter() - started)
        per_poll = (backend.stats.soap_calls - calls) / len(polls)
        naive_s, naive_calls = await asyncio.to_thread(_naive, sim, len(vms))
        poll = statistics.median(polls)
        rows.append((f"inventory poll: {len(hosts)} hosts, {len(vms)} VMs", f"{poll * 1000:.0f} ms",
                     f"{naive_s:.1f} s (attribute reads)",
                     f"≤ {TARGET_POLL_S:g} s: {'ok' if poll <= TARGET_POLL_S else 'SLOW'}"))
        rows.append(("  SOAP calls per poll", f"{per_poll:g}", f"{naive_calls:,}", "one retrieval"))
        rows += await asyncio.to_thread(_profile, backend)
        await asyncio.gather(backend.hosts(), backend.vms())
        patched_before, retrievals_before = backend.stats.patched, backend.stats.retrievals
        after_change: list[float] = []
        delays = await _latency(backend, sim, vms, after_change)
        patched = backend.stats.patched - patched_before
        worst = max(delays)
        rows.append((f"update stream: change → on_change ({len(delays)} changes)",
                     f"{statistics.median(delays) * 1000:.0f} ms (max {worst * 1000:.0f})",
                     f"{statistics.median(small_delays) * 1000:.0f} ms at 8 VMs",
                     f"≤ {TARGET_LATENCY_S:g} s: {'ok' if worst <= TARGET_LATENCY_S else 'SLOW'}"))
        rows.append((f"poll after a change ({patched}/{len(after_change)} from the patch)",
                     f"{statistics.median(after_change) * 1000:.1f} ms", f"{poll * 1000:.0f} ms (full)",
                     f"{backend.stats.retrievals - retrievals_before} retrievals in "
                     f"{len(after_change)} changes"))
        started = time.perf_counter()
        samples = await backend.samples()
        took = time.perf_counter() - started
        rows.append((f"samples(): {len(samples)} cpu/memory values", f"{took * 1000:.0f} ms",
                     "", "QueryPerf in batches of 500"))
    finally:
        await backend.close()
    return rows


def _naive(sim: vf.Vcsim, fleet_vms: int) -> tuple[float, int]:
    """Attribute-by-attribute reads of NAIVE_SAMPLE VMs, scaled to the fleet: (s, calls)."""
    with vf.observer(sim) as si:
        refs = list(vf.all_of(si, vim.VirtualMachine, ["name"]))[:NAIVE_SAMPLE]
        started = time.perf_counter()
        for moid in refs:
            vm = vim.VirtualMachine(moid, si._stub)
            for path in NAIVE_PROPERTIES:
                value: Any = vm
                for part in path.split("."):
                    value = getattr(value, part)
        elapsed = time.perf_counter() - started
    scale = fleet_vms / len(refs)
    return elapsed * scale, round(len(refs) * len(NAIVE_PROPERTIES) * scale)


def _profile(backend: VsphereBackend) -> list[tuple[str, str, str, str]]:
    """One retrieval under cProfile, on this thread: where its time goes."""
    profiler = cProfile.Profile()
    profiler.enable()
    backend.session.call(backend._read_inventory)
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = sum(row[2] for row in stats.stats.values())  # type: ignore[attr-defined]

    def cumulative(file_part: str, function: str) -> float:
        return sum(row[3] for (file, _line, name), row in stats.stats.items()  # type: ignore[attr-defined]
                   if file_part in file and name == function)

    deserialize = cumulative("SoapAdapter.py", "Deserialize")
    handlers = sum(cumulative("SoapAdapter.py", h) for h in
                   ("StartElementHandler", "EndElementHandler", "CharacterDataHandler"))
    shaping = cumulative("vsphere/inventory.py", "build") + cumulative("vsphere/inventory.py", "as_records")
    share = lambda part: f"{part / total:.0%}"  # noqa: E731
    return [
        ("  share: read + parse SOAP (Deserialize)", share(deserialize), "", "profiled"),
        ("    of which expat handlers (Python)", share(handlers), "", ""),
        ("  share: Hosts/VMs shaping (build)", share(shaping), "", ""),
        ("  share: rest (request, server, views)", share(total - deserialize - shaping), "",
         f"{total * 1000:.0f} ms under cProfile"),
    ]


async def _latency(backend: VsphereBackend, sim: vf.Vcsim, vms: Any,
                   polls: list[float] | None = None) -> list[float]:
    """Change made by another client → `on_change` on our loop, up to ROUNDS times (s); with
    `polls`, also how long the poll each change triggers takes (answered from the patch)."""
    loop = asyncio.get_running_loop()
    arrived: asyncio.Queue[float] = asyncio.Queue()
    backend.watch(lambda: arrived.put_nowait(time.perf_counter()))
    stream = backend.update_stream
    assert stream is not None
    for _ in range(1200):  # its initial state first (a minute at most)
        if stream.ready:
            break
        await asyncio.sleep(0.05)
    running = [vm for vm in vms if vm.state.value == "running"][:ROUNDS]
    delays: list[float] = []
    with vf.observer(sim) as si:
        moids = {p["config.instanceUuid"]: m for m, p in
                 vf.all_of(si, vim.VirtualMachine, ["config.instanceUuid"]).items()}
        for vm in running:
            while not arrived.empty():
                arrived.get_nowait()
            ref = vim.VirtualMachine(moids[vm.id], si._stub)
            await loop.run_in_executor(None, vf.wait_task, ref.PowerOffVM_Task())
            done = time.perf_counter()
            seen = await asyncio.wait_for(arrived.get(), 30)
            delays.append(max(0.0, seen - done))
            if polls is not None:
                started = time.perf_counter()
                await asyncio.gather(backend.hosts(), backend.vms())
                polls.append(time.perf_counter() - started)
    return delays
