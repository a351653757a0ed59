"""The fleet: backoff, merged snapshots, and stale marking, over real libvirt test-driver hosts."""

from __future__ import annotations

import asyncio
import itertools
import random
import shutil
import socket
from pathlib import Path

import pytest

from backends.libvirt.backend import LibvirtBackend
from backends.libvirt.events import silence_default_error_handler
from console import demo
from console.config import demo_context
from console.fleet.polling import (
    CIRCUIT_OPEN_AFTER,
    MAX_BACKOFF_S,
    PUBLISH_GAP_S,
    Fleet,
    backoff_delay,
)
from console.fleet.sources import build_backends
from console.models import FleetSnapshot, HostState

pytestmark = pytest.mark.timeout(60)
silence_default_error_handler()


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- backoff ---------------------------------------------------------------------------------


def test_backoff_without_failures_is_the_interval() -> None:
    assert backoff_delay(5.0, 0, random.Random(1)) == 5.0


@pytest.mark.parametrize("interval", [0.5, 2.0, 5.0])
def test_backoff_grows_jittered_within_bounds(interval: float) -> None:
    rng = random.Random(42)
    previous_ceiling = interval
    for failures in range(1, 12):
        ceiling = min(MAX_BACKOFF_S, interval * 2**failures)
        samples = [backoff_delay(interval, failures, rng) for _ in range(300)]
        assert all(max(interval, ceiling / 2) <= s <= ceiling for s in samples), failures
        assert ceiling >= previous_ceiling
        previous_ceiling = ceiling
        if ceiling / 2 > interval:  # room to jitter: the delays must differ (no thundering herd)
            assert max(samples) - min(samples) > ceiling * 0.3
            assert sum(samples) / len(samples) == pytest.approx(ceiling * 0.75, rel=0.1)
    assert backoff_delay(interval, 50, rng) <= MAX_BACKOFF_S


def test_backoff_mean_grows_with_failures() -> None:
    rng = random.Random(7)
    means = [sum(backoff_delay(1.0, n, rng) for _ in range(200)) / 200 for n in range(1, 6)]
    assert means == sorted(means) and means[-1] > 4 * means[0]


# -- snapshots over the demo fleet -----------------------------------------------------------


async def test_demo_fleet_snapshot_has_every_vm() -> None:
    clock = Clock()
    fleet = Fleet("demo", build_backends(demo_context(), read_only=True), clock=clock)
    try:
        snap = await fleet.poll_once()
    finally:
        await fleet.stop()
    assert snap.context == "demo"
    assert len(snap.vms) == 60
    assert len({vm.key for vm in snap.vms}) == 60
    assert sorted(h.name for h in snap.hosts) == [p.stem for p in demo.host_files()]
    assert all(h.ok and h.last_success == clock.now for h in snap.health)
    assert snap.stale_sources == ()
    assert not any(vm.stale for vm in snap.vms)
    assert all(h.state is HostState.UP and h.cpus > 0 and h.memory_bytes > 0 for h in snap.hosts)
    with pytest.raises(AttributeError):
        snap.vms = ()  # type: ignore[misc]  # immutable


async def test_unreachable_sources_are_stale_placeholders_others_fresh(tmp_path: Path) -> None:
    good = demo.host_files()[0]
    backends = [
        LibvirtBackend("good", f"test://{good}"),
        LibvirtBackend("no-file", f"test://{tmp_path / 'missing.xml'}"),
        LibvirtBackend("no-daemon", f"test+tcp://127.0.0.1:{free_port()}/x.xml", timeout_s=5),
    ]
    fleet = Fleet("mixed", backends, clock=Clock())
    try:
        snap = await fleet.poll_once()
    finally:
        await fleet.stop()
    health = {h.name: h for h in snap.health}
    assert health["good"].ok and not health["good"].error
    assert {h.name for h in snap.stale_sources} == {"no-file", "no-daemon"}
    assert "NOVA-9000" in health["no-file"].error and "missing.xml" in health["no-file"].error
    assert "NOVA-2001" in health["no-daemon"].error and "refused" in health["no-daemon"].error
    assert health["no-daemon"].consecutive_failures == 1

    hosts = {h.backend: h for h in snap.hosts}
    assert hosts["good"].state is HostState.UP and not hosts["good"].stale
    for name in ("no-file", "no-daemon"):
        placeholder = hosts[name]
        assert placeholder.stale and placeholder.name == name
        assert placeholder.state is HostState.DOWN  # never answered
        assert placeholder.error == health[name].error
    assert {vm.backend for vm in snap.vms} == {"good"}
    assert len(snap.vms) == len(domain_names(good))


def domain_names(path: Path) -> list[str]:
    import xml.etree.ElementTree as ET

    return [d.findtext("name") or "" for d in ET.parse(path).getroot().findall("domain")]


async def test_source_that_fails_keeps_last_data_marked_stale_then_recovers(tmp_path: Path) -> None:
    path = tmp_path / "host.xml"
    shutil.copy(demo.host_files()[1], path)
    clock = Clock()
    flaky = LibvirtBackend("flaky", f"test://{path}")
    steady = LibvirtBackend("steady", f"test://{demo.host_files()[2]}")
    fleet = Fleet("ctx", [flaky, steady], clock=clock)
    try:
        first = await fleet.poll_once()
        before = {vm.key: vm for vm in first.vms if vm.backend == "flaky"}
        assert before and not any(vm.stale for vm in first.vms)

        # The host goes away: its connection drops and cannot be reopened.
        path.rename(tmp_path / "away.xml")
        flaky._drop_connection()
        clock.now += 30
        snap = await fleet.poll_once()
        health = {h.name: h for h in snap.health}
        assert not health["flaky"].ok and health["steady"].ok
        assert health["flaky"].last_success == first.taken_at
        after = {vm.key: vm for vm in snap.vms if vm.backend == "flaky"}
        assert after.keys() == before.keys(), "a failed source keeps its VMs"
        for key, vm in after.items():
            assert vm.stale and vm.age_s == pytest.approx(30)
            assert (vm.name, vm.state, vm.vcpus, vm.memory_bytes) == (
                before[key].name, before[key].state, before[key].vcpus, before[key].memory_bytes)
        host = next(h for h in snap.hosts if h.backend == "flaky")
        assert host.state is HostState.STALE and host.stale and host.cpus > 0 and host.error
        assert not any(vm.stale for vm in snap.vms if vm.backend == "steady")

        # Repeated failures open the circuit: shown as down, still with the last data.
        for _ in range(CIRCUIT_OPEN_AFTER):
            snap = await fleet.poll_once()
        host = next(h for h in snap.hosts if h.backend == "flaky")
        assert host.state is HostState.DOWN
        assert len([v for v in snap.vms if v.backend == "flaky"]) == len(before)

        # It comes back: fresh again, nobody did anything but poll.
        (tmp_path / "away.xml").rename(path)
        clock.now += 5
        snap = await fleet.poll_once()
        assert all(h.ok for h in snap.health)
        assert not any(vm.stale for vm in snap.vms)
        assert next(h for h in snap.hosts if h.backend == "flaky").state is HostState.UP
    finally:
        await fleet.stop()


async def test_running_fleet_publishes_new_generations_and_pokes() -> None:
    snaps: list[FleetSnapshot] = []
    got = asyncio.Event()

    def on_snapshot(snap: FleetSnapshot) -> None:
        snaps.append(snap)
        got.set()

    paths = demo.host_files()[:2]
    fleet = Fleet("demo", [LibvirtBackend(p.stem, f"test://{p}") for p in paths],
                  interval_s=30, on_snapshot=on_snapshot)
    await fleet.start()
    try:
        for _ in range(100):
            if all(h.ok for h in fleet.snapshot.health):
                break
            await asyncio.sleep(0.05)
        assert all(h.ok for h in fleet.snapshot.health)
        generation = fleet.snapshot.generation
        got.clear()
        fleet.poke(paths[0].stem)  # an interval of 30 s: only the poke can cause a new sweep
        await asyncio.wait_for(got.wait(), 5)
        assert fleet.snapshot.generation > generation
        gens = [s.generation for s in snaps]
        assert gens == sorted(gens) and len(set(gens)) == len(gens)
    finally:
        await fleet.stop()
    assert not fleet._tasks


async def test_answers_in_a_burst_are_published_together_and_none_is_lost() -> None:
    """Sources answering one after another are published at most once per PUBLISH_GAP_S
    (200 hosts answered 40 times a second, each a merge and diff of the whole fleet), and the
    last answer of a burst is published too."""
    published: list[tuple[float, FleetSnapshot]] = []
    loop = asyncio.get_running_loop()
    paths = demo.host_files()
    fleet = Fleet("demo", [LibvirtBackend(p.stem, f"test://{p}") for p in paths],
                  interval_s=30, on_snapshot=lambda s: published.append((loop.time(), s)))
    await fleet.start()
    try:
        for _ in range(200):
            if published and all(h.ok for h in published[-1][1].health):
                break
            await asyncio.sleep(0.05)
    finally:
        await fleet.stop()
    assert len(paths) == 5
    assert published and all(h.ok for h in published[-1][1].health), "the burst's end published"
    assert len(published[-1][1].vms) == 60
    times = [t for t, _ in published]
    assert all(b - a >= PUBLISH_GAP_S - 0.01 for a, b in itertools.pairwise(times))
