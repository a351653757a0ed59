"""The Prometheus backend against a real Prometheus (backfilled with 2,000 hosts and 100,000
VMs in the libvirt exporter's series) and against servers that are down, silent or broken.

Queries are counted by a real HTTP proxy in front of Prometheus, not by patching the client.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from backends.prometheus import matcher
from backends.prometheus.backend import PrometheusBackend
from console.errors import Code, NovaError
from console.models import HostState, VMState
from console.sanitize import REPLACEMENT
from tests.integration import prometheus_fixture as pf

pytestmark = pytest.mark.integration

FLEET = pf.Fleet()  # the same fleet the shared `prometheus` fixture (conftest) serves
STATE_OF = {1: VMState.RUNNING, 2: VMState.RUNNING, 3: VMState.PAUSED, 6: VMState.CRASHED,
            7: VMState.SUSPENDED}


@pytest.fixture
async def backend(proxied: tuple[str, pf.Traffic]) -> AsyncIterator[PrometheusBackend]:
    # Generous: on a loaded 2-core CI box one 100k-series answer has taken more than 10 s.
    b = PrometheusBackend("prom", proxied[0], inventory=True, timeout_s=60, queries=pf.QUERIES)
    yield b
    await b.close()


class LoopWatch:
    """Measures the longest gap between ticks of a 10 ms timer: how long the loop was blocked."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            self.worst = max(self.worst, now - last - 0.01)
            last = now

    def __enter__(self) -> LoopWatch:
        self._task = asyncio.get_running_loop().create_task(self._tick())
        return self

    def __exit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()


# -- inventory at scale ------------------------------------------------------------------------


async def test_inventory_of_100k_vms_in_a_handful_of_queries(
        backend: PrometheusBackend, proxied: tuple[str, pf.Traffic]) -> None:
    """2,000 hosts and 100,000 VMs with every field right, from 9 HTTP requests in all (5 for
    the hosts, 4 for the VMs), without blocking the event loop for long."""
    _, traffic = proxied
    started = time.perf_counter()
    with LoopWatch() as watch:
        hosts, vms = await asyncio.gather(backend.hosts(), backend.vms())
    elapsed = time.perf_counter() - started

    assert traffic.requests == 9, traffic.paths
    assert set(traffic.paths) == {"/api/v1/query"}
    assert backend.stats.queries == 9
    print(f"\ninventory: {len(hosts)} hosts, {len(vms)} VMs, {traffic.requests} requests, "
          f"{traffic.bytes_in / 1e6:.1f} MB on the wire, {backend.stats.bytes / 1e6:.1f} MB "
          f"decoded, {elapsed:.2f} s, loop blocked at most {watch.worst * 1000:.0f} ms")
    # Speed is measured by `make bench`; here only "never blocked for a poll's whole timeout".
    assert watch.worst < backend.client.timeout_s

    assert len(hosts) == FLEET.hosts
    by_name = {h.name: h for h in hosts}
    for h in range(FLEET.hosts):
        host = by_name[FLEET.host_name(h)]
        assert host.backend == "prom"
        assert host.id == host.name
        assert host.state is (HostState.UP if FLEET.host_up(h) else HostState.DOWN)
        assert host.cpus == FLEET.host_cpus
        assert host.memory_bytes == FLEET.host_memory(h)
        assert host.free_memory_bytes == FLEET.host_available(h)
        # 75 % idle: 2 of 8 cores busy (exact for an hour after the backfill: prometheus_fixture)
        assert host.cpu_usage == pytest.approx(2 / FLEET.host_cpus, rel=1e-6)

    assert len(vms) == FLEET.vm_count
    by_id = {vm.id: vm for vm in vms}
    assert len(by_id) == FLEET.vm_count
    for h in range(FLEET.hosts):
        for i in range(FLEET.vms_per_host):
            vm = by_id[FLEET.vm_uuid(h, i)]
            assert vm.host == FLEET.host_name(h)
            assert vm.backend == "prom"
            assert vm.state is STATE_OF[FLEET.vm_state_code(h, i)]
            assert vm.vcpus == FLEET.vm_vcpus(h, i)
            assert vm.memory_bytes == FLEET.vm_memory(h, i)
            assert vm.tags == ()
            assert vm.cpu_used_cores == pytest.approx(FLEET.vm_cpu_rate(h, i), rel=1e-6,
                                                      abs=1e-9)
            if (h, i) != (0, 0):
                assert vm.name == FLEET.vm_name(h, i)


async def test_each_vm_carries_its_cpu_rate_from_one_more_batched_query(
        backend: PrometheusBackend, proxied: tuple[str, pf.Traffic]) -> None:
    """`vms()` asks 4 queries (state, vCPUs, memory, and `vm_cpu_used`: Prometheus' rate of the
    exporter's CPU-time counter), whatever the fleet size; `hosts()` asks 5 (CPU used is one).
    Each VM carries its exact rate in cores, ready for the sparkline without a second poll."""
    _, traffic = proxied
    vms = await backend.vms()
    assert traffic.requests == 4, traffic.paths
    assert set(traffic.paths) == {"/api/v1/query"}
    rates = {vm.id: vm.cpu_used_cores for vm in vms}
    assert len(rates) == FLEET.vm_count
    for h in range(FLEET.hosts):
        for i in range(FLEET.vms_per_host):
            assert rates[FLEET.vm_uuid(h, i)] == pytest.approx(FLEET.vm_cpu_rate(h, i),
                                                               rel=1e-6, abs=1e-9)
    assert [rates[FLEET.vm_uuid(5, i)] for i in range(8)] == pytest.approx(
        [i / 4 for i in range(8)])  # the fleet's whole spread, idle (0.0) included
    traffic.reset()
    hosts = await backend.hosts()
    assert traffic.requests == 5, traffic.paths
    assert [h.cpu_usage for h in hosts] == pytest.approx([2 / FLEET.host_cpus] * FLEET.hosts)


async def test_label_values_are_sanitized_at_ingestion(backend: PrometheusBackend) -> None:
    """A domain name carrying an escape sequence and a bidi override arrives inert."""
    vm = next(v for v in await backend.vms() if v.id == FLEET.vm_uuid(0, 0))
    assert "\x1b" not in vm.name and "\u202e" not in vm.name
    assert vm.name == f"evil{REPLACEMENT}[31m{REPLACEMENT}VM"


async def test_without_inventory_the_backend_lists_nothing(
        proxied: tuple[str, pf.Traffic]) -> None:
    url, traffic = proxied
    b = PrometheusBackend("metrics-only", url)
    try:
        assert await b.hosts() == [] and await b.vms() == []
        assert traffic.requests == 0
    finally:
        await b.close()


# -- metrics -----------------------------------------------------------------------------------


async def test_host_usage_is_one_batch_for_all_hosts(
        backend: PrometheusBackend, proxied: tuple[str, pf.Traffic]) -> None:
    usage = await backend.host_usage()
    assert proxied[1].requests == 4
    assert len(usage) == FLEET.hosts
    row = next(u for u in usage if u.host == FLEET.host_name(7))
    assert row.cpus == FLEET.host_cpus
    # 75 % idle of 8 CPUs: 2 busy (exact for an hour after the backfill: prometheus_fixture).
    assert row.cpu_used == pytest.approx(2.0, rel=1e-3)
    assert {u.cpu_used for u in usage} == {row.cpu_used}
    assert row.cpu_ratio == pytest.approx(row.cpu_used / FLEET.host_cpus)
    assert row.memory_bytes == FLEET.host_memory(7)
    assert row.memory_used_bytes == FLEET.host_memory(7) - FLEET.host_available(7)


async def test_vm_usage_for_every_vm_and_for_one(backend: PrometheusBackend) -> None:
    usage = await backend.vm_usage()
    assert len(usage) == FLEET.vm_count
    one = await backend.vm_usage(match=matcher(uuid=FLEET.vm_uuid(3, 5)))
    assert [u.vm_id for u in one] == [FLEET.vm_uuid(3, 5)]
    assert one[0].host == FLEET.host_name(3)
    assert one[0].memory_used_bytes == FLEET.vm_memory(3, 5) // 2
    by_id = {u.vm_id: u.cpu_used for u in usage}
    assert by_id[FLEET.vm_uuid(3, 1)] == pytest.approx(FLEET.vm_cpu_rate(3, 1), rel=1e-3)
    assert one[0].cpu_used == pytest.approx(FLEET.vm_cpu_rate(3, 5), rel=1e-3)
    assert by_id[FLEET.vm_uuid(3, 0)] == 0.0


async def test_top_vms_and_hosts(backend: PrometheusBackend,
                                 proxied: tuple[str, pf.Traffic]) -> None:
    top = await backend.top(5)
    assert proxied[1].requests == 1
    assert len(top) == 5
    busiest = max(FLEET.vm_cpu_rate(0, i) for i in range(FLEET.vms_per_host))
    busiest_ids = {FLEET.vm_uuid(h, i) for h in range(FLEET.hosts)
                   for i in range(FLEET.vms_per_host) if FLEET.vm_cpu_rate(h, i) == busiest}
    assert {s.target for s in top} <= busiest_ids
    assert len({s.value for s in top}) == 1
    assert all(s.metric == "vm_cpu_used" and len(s.target) == 36 for s in top)
    hosts = await backend.top(3, "host_memory_used")
    assert [s.value for s in hosts] == sorted((s.value for s in hosts), reverse=True)
    assert all(s.target.startswith("kvm-") for s in hosts)


async def test_range_charts_one_vm_and_one_host(backend: PrometheusBackend) -> None:
    uuid = FLEET.vm_uuid(2, 3)
    lines = await backend.range("vm_cpu_used", 900, vm_id=uuid)
    assert [line.target for line in lines] == [uuid]
    assert lines[0].points, "no points in the last 15 minutes"
    assert all(v > 0 for _, v in lines[0].points)
    mem = await backend.range("host_memory", 3600, 60, host=FLEET.host_name(9))
    assert [line.target for line in mem] == [FLEET.host_name(9)]
    assert {v for _, v in mem[0].points} == {float(FLEET.host_memory(9))}
    raw = await backend.range('count(libvirt_domain_state_code{instance="kvm-0004"})', 600, 60)
    assert raw[0].points[-1][1] == FLEET.vms_per_host


async def test_firing_alerts_linked_to_hosts_and_vms(backend: PrometheusBackend) -> None:
    deadline = time.monotonic() + 60
    alerts = await backend.alerts()
    while len(alerts) < 5 and time.monotonic() < deadline:  # rules evaluate every second
        await asyncio.sleep(0.3)
        alerts = await backend.alerts()
    down = [a for a in alerts if a.name == "LibvirtDown"]
    assert sorted(a.host for a in down) == sorted(
        FLEET.host_name(h) for h in range(FLEET.hosts) if not FLEET.host_up(h))
    assert all(a.severity == "critical" and a.state == "firing" and a.source == "prom"
               for a in down)
    assert alerts[0].severity == "critical"  # critical first
    crashed = [a for a in alerts if a.name == "VMCrashed"]
    assert [(a.vm_id, a.vm_name, a.host) for a in crashed] == [
        (FLEET.vm_uuid(0, 13), FLEET.vm_name(0, 13), FLEET.host_name(0))]
    assert crashed[0].summary == f"{FLEET.vm_name(0, 13)} crashed"
    assert crashed[0].active_since is not None and crashed[0].active_since > time.time() - 3600


async def test_a_bad_query_reports_prometheus_own_message(proxied: tuple[str, pf.Traffic]
                                                         ) -> None:
    b = PrometheusBackend("prom", proxied[0], inventory=True,
                          queries={"vm_vcpus": "max by ($host (libvirt_domain_info_virtual_cpus)"})
    try:
        with pytest.raises(NovaError) as caught:
            await b.vms()
        assert caught.value.kind is Code.BACKEND_ERROR
        assert "HTTP 400 from" in caught.value.cause and "parse error" in caught.value.cause
    finally:
        await b.close()


async def test_data_comes_back_when_prometheus_does(prometheus: pf.PrometheusServer) -> None:
    """The same backend object fails cleanly while Prometheus is gone and works once it is
    back at the same URL: nothing to reconnect by hand."""
    port = pf.free_port()
    url = f"http://127.0.0.1:{port}"
    # A long timeout: a loaded CI box once took more than 2 s for the 2,000-host answer; the
    # refused connection in between fails at once whatever the timeout.
    b = PrometheusBackend("prom", url, inventory=True, timeout_s=60)
    try:
        with pf.counting_proxy(prometheus.url, port):
            assert len(await b.hosts()) == FLEET.hosts
        with pytest.raises(NovaError) as caught:
            await b.hosts()
        assert caught.value.kind is Code.HOST_UNREACHABLE
        with pf.counting_proxy(prometheus.url, port):
            assert len(await b.hosts()) == FLEET.hosts
    finally:
        await b.close()


# -- broken servers ----------------------------------------------------------------------------


async def _every_call(b: PrometheusBackend) -> list[NovaError]:
    """Run each kind of call; return the NovaErrors (anything else fails the test)."""
    calls = [b.hosts(), b.vms(), b.host_usage(), b.vm_usage(), b.range("vm_cpu_used", 600),
             b.top(3), b.alerts(), b.samples()]
    errors = []
    for call in calls:
        with pytest.raises(NovaError) as caught:
            await call
        errors.append(caught.value)
    return errors


async def test_prometheus_down_is_host_unreachable_at_once() -> None:
    url = pf.refused_url()
    b = PrometheusBackend("prom", url, inventory=True, timeout_s=60)
    try:
        started = time.perf_counter()
        errors = await _every_call(b)
        assert time.perf_counter() - started < 60, "connection refused must not wait the timeout"
        assert {e.kind for e in errors} == {Code.HOST_UNREACHABLE}
        assert all(url in e.cause and "Connection refused" in e.cause for e in errors)
        assert str(errors[0]).startswith("NOVA-2001: The host did not answer")
    finally:
        await b.close()


async def test_a_server_that_never_answers_times_out_within_the_timeout() -> None:
    with pf.never_answering_server() as url:
        b = PrometheusBackend("prom", url, inventory=True, timeout_s=1)
        try:
            with LoopWatch() as watch:
                started = time.perf_counter()
                with pytest.raises(NovaError) as caught:
                    await b.vms()
                took = time.perf_counter() - started
                assert caught.value.kind is Code.TIMEOUT
                assert took >= 0.9, took  # it waited for its timeout, and then gave up
                assert f"no answer from {url}" in caught.value.cause
                errors = await asyncio.wait_for(_every_call(b), 30)
            assert {e.kind for e in errors} == {Code.TIMEOUT}
            assert watch.worst < 1.0, "the loop must stay free while Prometheus hangs (1 s timeout)"
        finally:
            await b.close()


@pytest.mark.parametrize("body", [
    b'{"status":"success","data":{"resultType":"vector","res',
    b"<html><body>502 Bad Gateway</body></html>",
    b'{"status":"success","data":{"resultType":"vector","result":[{"metric":1}]}}',
    b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"x"]}]}}',
    b'{"status":"success","data":{"resultType":"scalar","result":[1, "2"]}}',
    b'{"status":"success"}',
], ids=["truncated", "html", "bad-metric", "bad-value", "scalar", "no-data"])
async def test_malformed_json_is_a_clear_backend_error(body: bytes) -> None:
    with pf.garbage_server(body) as url:
        b = PrometheusBackend("prom", url, inventory=True, timeout_s=2)
        try:
            errors = await _every_call(b)
            for err in errors[:6]:  # instant and range queries
                assert err.kind is Code.BACKEND_ERROR
                assert err.cause.startswith(f"malformed JSON from {url}/api/v1/query"), err.cause
            assert errors[6].kind is Code.BACKEND_ERROR  # alerts
            assert url in errors[6].cause
        finally:
            await b.close()


async def test_an_http_error_names_the_status() -> None:
    with pf.garbage_server(b"upstream exploded", status=500, content_type="text/plain") as url:
        b = PrometheusBackend("prom", url, inventory=True, timeout_s=2)
        try:
            with pytest.raises(NovaError) as caught:
                await b.vms()
            assert caught.value.kind is Code.BACKEND_ERROR
            assert caught.value.cause == f"HTTP 500 from {url}/api/v1/query: upstream exploded"
        finally:
            await b.close()
