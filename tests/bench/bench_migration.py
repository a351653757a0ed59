"""Live migration: our backend vs `virsh migrate`, one guest and a whole-host drain.

Needs a running lab: `NOVACRON_BENCH_LAB_ROOT` (default: the `novacron lab up` root). Guests
go back and forth between the same two hosts so each run measures the same work; ours and
virsh alternate (`NOVACRON_BENCH_ROUNDS`, default 3) and the medians are compared, because the
guests keep dirtying memory and single timings wander.

Rows (label, ours, baseline, verdict):
- one live migration, our backend (P2P, persistent, undefine source) vs `virsh migrate --live
  --p2p --persistent --undefinesource` with the same migration URI: overhead ≤ 5 %;
- drain of a host with N guests (concurrency 2) vs a sequential `virsh migrate` loop.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import time

from backends.libvirt.backend import LibvirtBackend
from backends.libvirt.migration import migration_uri
from console.fleet.polling import Fleet
from console.lab.lab import Lab
from console.migration.drain import drain
from console.migration.tracker import MigrationTracker
from console.models import MigrationPhase

TARGET_OVERHEAD = 0.05


def virsh_migrate(source_uri: str, name: str, target_uri: str) -> float:
    started = time.monotonic()
    subprocess.run(["virsh", "-c", source_uri, "migrate", "--live", "--p2p", "--persistent",
                    "--undefinesource", name, target_uri, "--migrateuri",
                    migration_uri(target_uri) or ""], check=True, capture_output=True, text=True)
    return time.monotonic() - started


def running(uri: str) -> list[str]:
    out = subprocess.run(["virsh", "-c", uri, "list", "--name"], check=True,
                         capture_output=True, text=True).stdout
    return [line.strip() for line in out.splitlines() if line.strip()]


async def ours_once(a: LibvirtBackend, b: LibvirtBackend, name: str) -> float:
    started = time.monotonic()
    await a.migrate_to(name, target=b.name, target_uri=b.uri)
    return time.monotonic() - started


async def one_guest(lab: Lab, rounds: int) -> tuple[float, float]:
    h1, h2 = lab.hosts()[:2]
    a, b = LibvirtBackend(h1.name, h1.uri), LibvirtBackend(h2.name, h2.uri)
    name = running(h1.uri)[0]
    ours: list[float] = []
    theirs: list[float] = []
    try:
        for _ in range(rounds):  # there and back each time: the guest ends where it started
            ours.append(await ours_once(a, b, name))
            theirs.append(await asyncio.to_thread(virsh_migrate, h2.uri, name, h1.uri))
            theirs.append(await asyncio.to_thread(virsh_migrate, h1.uri, name, h2.uri))
            ours.append(await ours_once(b, a, name))
    finally:
        await a.close()
        await b.close()
    return statistics.median(ours), statistics.median(theirs)


async def drain_host(lab: Lab) -> tuple[float, float, int]:
    hosts = lab.hosts()
    busiest = max(hosts, key=lambda h: len(running(h.uri)))
    others = [h for h in hosts if h is not busiest]
    names = running(busiest.uri)
    backends = [LibvirtBackend(h.name, h.uri) for h in hosts]
    fleet = Fleet("bench", backends)
    try:
        tracker = MigrationTracker(fleet.backends, poll_interval_s=1.0)
        summary = await drain(tracker, busiest.name, await fleet.poll_once(), concurrency=2)
        await tracker.close()
        assert all(s.phase is MigrationPhase.DONE for s in summary.results), summary.lines()
        ours = summary.elapsed_s
        # Put them back with a sequential virsh loop (the baseline), then check it is empty.
        started = time.monotonic()
        for state in summary.results:
            target = next(h for h in others if h.name == state.target)
            await asyncio.to_thread(virsh_migrate, target.uri, state.vm_name, busiest.uri)
        baseline = time.monotonic() - started
        assert sorted(running(busiest.uri)) == sorted(names)
    finally:
        await fleet.stop()
    return ours, baseline, len(names)


def run() -> list[tuple[str, str, str, str]]:
    lab = Lab(root=os.environ.get("NOVACRON_BENCH_LAB_ROOT", "/var/lib/novacron-lab"))
    if len(lab.hosts()) < 2:
        return [("live migration", "skipped", "needs a lab with 2+ hosts", "n/a")]
    rounds = int(os.environ.get("NOVACRON_BENCH_ROUNDS", "3"))
    ours, theirs = asyncio.run(one_guest(lab, rounds))
    overhead = ours / theirs - 1
    rows = [(f"one live migration (median of {2 * rounds})", f"{ours:.2f} s",
             f"virsh migrate {theirs:.2f} s",
             f"{'ok' if overhead <= TARGET_OVERHEAD else 'SLOW'} ({overhead:+.1%})")]
    ours_d, seq, n = asyncio.run(drain_host(lab))
    rows.append((f"drain of a host with {n} guests (2 at a time)", f"{ours_d:.2f} s",
                 f"sequential virsh loop {seq:.2f} s",
                 "ok" if ours_d <= seq * (1 + TARGET_OVERHEAD) else "SLOW"))
    return rows


if __name__ == "__main__":
    for row in run():
        print(" | ".join(row))
