"""Real Prometheus servers for tests and benchmarks, plus the broken servers they must survive.

Why this exists: the inventory-from-Prometheus path only matters at scale, so the tests need a
real Prometheus holding series for thousands of hosts. Scraping that many exporters is not
possible here, so the data is *backfilled*: we write OpenMetrics text with the libvirt
exporter's series names and labels (checked against prometheus-libvirt-exporter 0.2.0, which
labels domains with `domain` and `uuid` only; Prometheus adds `instance` and `job`), turn it
into TSDB blocks with `promtool tsdb create-blocks-from openmetrics`, and start `prometheus`
on that directory.

Timestamps: the newest sample is "now" when the file is written and Prometheus runs with a
long `--query.lookback-delta`, so instant queries of gauges keep seeing the data for an hour.
Counters get three samples an hour apart (`SPAN`), and the backends the tests build query them
with `rate(…[RATE_WINDOW])` (2h): the window always holds the last two samples and
Prometheus extrapolates them exactly to its edges, so every rate is the fleet's true rate for
an hour after the backfill, however slowly a loaded machine gets to the test. (With the
product's default `[5m]` window, samples 4 minutes apart stopped answering one minute after
the backfill: on a loaded CI box, before the tests ran.)

Everything here is plain functions and context managers (no pytest import), so test modules
and `tests/bench` can both use it; test modules wrap them in their own fixtures.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"

SPAN = 7200
"""Seconds from a counter's first sample to its last (three samples, `SPAN / 2` apart)."""
RATE_WINDOW = "2h"
"""The `rate()` window tests query the backfilled counters with (see the module docstring)."""
QUERIES = {"window": RATE_WINDOW}
"""`PrometheusBackend(queries=QUERIES)`: the product's templates, over `RATE_WINDOW`."""

EVIL_NAME = "evil\x1b[31m\u202eVM"
"""The first VM's domain name: an escape sequence and a bidi override that must be cleaned."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


# -- the synthetic fleet -------------------------------------------------------------------


@dataclass(frozen=True)
class Fleet:
    """A deterministic fleet: every field of every host and VM is a function of its index.

    Tests assert against these functions instead of keeping 100,000 expected rows around.
    """

    hosts: int = 2000
    vms_per_host: int = 50
    host_cpus: int = 8
    down_every: int = 500
    """Every n-th host has `libvirt_up 0` (and fires the `LibvirtDown` alert)."""

    @property
    def vm_count(self) -> int:
        return self.hosts * self.vms_per_host

    def host_name(self, h: int) -> str:
        return f"kvm-{h:04d}"

    def host_up(self, h: int) -> bool:
        return h % self.down_every != 1

    def host_memory(self, h: int) -> int:
        return (256 + 64 * (h % 4)) * 2**30

    def host_available(self, h: int) -> int:
        return (32 + h % 64) * 2**30

    def vm_name(self, h: int, i: int) -> str:
        return EVIL_NAME if h == 0 and i == 0 else f"vm-{h:04d}-{i:02d}"

    def vm_uuid(self, h: int, i: int) -> str:
        return f"{h:08x}-0000-4000-8000-{i:012x}"

    def vm_vcpus(self, h: int, i: int) -> int:
        return 1 << (i % 4)

    def vm_memory(self, h: int, i: int) -> int:
        return (1 << (i % 5)) * 2**30

    def vm_state_code(self, h: int, i: int) -> int:
        """libvirt's virDomainState: mostly running, some paused, crashed, pmsuspended."""
        return {7: 3, 13: 6, 29: 7, 31: 2}.get(i, 1)

    def vm_cpu_rate(self, h: int, i: int) -> float:
        """CPU seconds per second the VM burns between the two samples."""
        return (i % 8) / 4


# -- backfill --------------------------------------------------------------------------------


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _families(fleet: Fleet, end: int, span: int) -> list[tuple[str, list[str]]]:
    """Each metric family as (TYPE line, sample lines), in the exporter's names and labels.

    Gauges get one sample at `end`. Counters get three samples from `end - span` to `end`,
    so a `rate(…[RATE_WINDOW])` at the current time is exact until `end + span / 2`.
    """
    hosts = range(fleet.hosts)
    vms = [(h, i) for h in hosts for i in range(fleet.vms_per_host)]
    t0 = end - span

    def lbl(h: int, i: int) -> str:
        return (f'domain="{_escape(fleet.vm_name(h, i))}",instance="{fleet.host_name(h)}",'
                f'job="libvirt",uuid="{fleet.vm_uuid(h, i)}"')

    def node(h: int) -> str:
        return f'instance="{fleet.host_name(h)}",job="node"'

    def exporter(h: int) -> str:
        return f'instance="{fleet.host_name(h)}",job="libvirt"'

    def gauge(name: str, rows: Iterable[tuple[str, float]]) -> tuple[str, list[str]]:
        return (f"# TYPE {name} gauge\n",
                [f"{name}{{{labels}}} {_number(value)} {end}\n" for labels, value in rows])

    def counter(name: str, rows: Iterable[tuple[str, float, float]], points: int = 3
                ) -> tuple[str, list[str]]:
        """`points` samples from `first` at `end - span` to `last` at `end`, evenly spaced."""
        lines = []
        times = [t0 + span * k // (points - 1) for k in range(points)]
        for labels, first, last in rows:
            for k, t in enumerate(times):
                value = first + (last - first) * k / (points - 1)
                lines.append(f"{name}_total{{{labels}}} {value:.3f} {t}\n")
        return f"# TYPE {name} counter\n", lines

    return [
        gauge("libvirt_up", ((exporter(h), float(fleet.host_up(h))) for h in hosts)),
        gauge("libvirt_domains_number", ((exporter(h), fleet.vms_per_host) for h in hosts)),
        gauge("node_memory_MemTotal_bytes", ((node(h), fleet.host_memory(h)) for h in hosts)),
        gauge("node_memory_MemAvailable_bytes",
              ((node(h), fleet.host_available(h)) for h in hosts)),
        # Each host's CPUs are idle 75 % of the time: 2 of 8 cores busy.
        counter("node_cpu_seconds", (
            (f'cpu="{c}",{node(h)},mode="idle"', 1e6, 1e6 + 0.75 * span)
            for h in hosts for c in range(fleet.host_cpus))),
        gauge("libvirt_domain_state_code", ((lbl(h, i), fleet.vm_state_code(h, i)) for h, i in vms)),
        gauge("libvirt_domain_info_virtual_cpus",
              ((lbl(h, i), fleet.vm_vcpus(h, i)) for h, i in vms)),
        gauge("libvirt_domain_info_maximum_memory_bytes",
              ((lbl(h, i), fleet.vm_memory(h, i)) for h, i in vms)),
        gauge("libvirt_domain_info_memory_usage_bytes",
              ((lbl(h, i), fleet.vm_memory(h, i) // 2) for h, i in vms)),
        counter("libvirt_domain_info_cpu_time_seconds", (
            (lbl(h, i), 1e9, 1e9 + fleet.vm_cpu_rate(h, i) * span) for h, i in vms)),
    ]


def write_openmetrics(directory: Path, fleet: Fleet, end: int, span: int = SPAN,
                      parts: int = 2) -> tuple[list[Path], int]:
    """Write the fleet as `parts` OpenMetrics files of about equal size; return them and the
    number of samples.

    Why several files: promtool's time grows faster than linearly with one big file (17.7 s
    for the default fleet in one file, 7.3 s in two), and two files convert in parallel.
    """
    families = _families(fleet, end, span)
    total = sum(len(lines) for _, lines in families)
    paths = [directory / f"fleet-{n}.om" for n in range(parts)]
    outs = [p.open("w", encoding="utf-8") for p in paths]
    try:
        written = 0
        for type_line, lines in families:
            out = outs[min(parts - 1, written * parts // max(total, 1))]
            out.write(type_line)
            out.write("".join(lines))
            written += len(lines)
        for out in outs:
            out.write("# EOF\n")
    finally:
        for out in outs:
            out.close()
    return paths, total


def backfill(fleet: Fleet, tsdb: Path, end: int | None = None) -> dict[str, float]:
    """Fill `tsdb` with the fleet's series; return timings and sizes for the report."""
    end = int(time.time()) if end is None else end
    tsdb.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="nc-om-") as tmp:
        paths, samples = write_openmetrics(Path(tmp), fleet, end)
        written = time.perf_counter()
        size = sum(p.stat().st_size for p in paths)
        procs = [subprocess.Popen([PROMTOOL, "tsdb", "create-blocks-from", "openmetrics",
                                   "--quiet", str(p), str(tsdb)],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                 for p in paths]
        for proc, path in zip(procs, paths, strict=True):
            out, _ = proc.communicate(timeout=600)
            if proc.returncode:
                raise RuntimeError(f"promtool failed on {path}: {out.decode(errors='replace')}")
    return {"end": end, "samples": samples, "bytes": size,
            "write_s": written - started, "promtool_s": time.perf_counter() - written}


# -- a running Prometheus --------------------------------------------------------------------

ALERT_RULES = """\
groups:
  - name: novacron-test
    interval: 1s
    rules:
      - alert: LibvirtDown
        expr: libvirt_up == 0
        labels: {severity: critical}
        annotations:
          summary: "libvirt exporter on {{ $labels.instance }} reports libvirt down"
      - alert: VMCrashed
        expr: libvirt_domain_state_code{instance="kvm-0000"} == 6
        labels: {severity: warning}
        annotations:
          summary: "{{ $labels.domain }} crashed"
          description: "state code 6 on {{ $labels.instance }}"
"""


@dataclass
class PrometheusServer:
    """A `prometheus` process on 127.0.0.1; `url` is its base URL."""

    url: str
    process: subprocess.Popen[bytes]
    workdir: Path
    info: dict[str, float] = field(default_factory=dict)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout_s: float, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited: {log.read_text(errors='replace')[-2000:]}")
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/-/ready",
                                                                  timeout=1) as resp:
            if resp.status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"prometheus not ready after {timeout_s} s: {log.read_text()[-2000:]}")


@contextlib.contextmanager
def run_prometheus(tsdb: Path, *, rules: str = ALERT_RULES, scrape: str = "",
                   lookback: str = "1h") -> Iterator[PrometheusServer]:
    """Start Prometheus on `tsdb` (kept as is), yield it, stop it."""
    if not os.access(PROMETHEUS, os.X_OK):
        raise RuntimeError(f"{PROMETHEUS} not found: install the Debian package prometheus")
    work = Path(tempfile.mkdtemp(prefix="nc-prom-"))
    (work / "rules.yml").write_text(rules)
    (work / "prometheus.yml").write_text(
        "global: {scrape_interval: 2s, evaluation_interval: 1s}\n"
        f"rule_files: [{work / 'rules.yml'}]\n" + (scrape or "scrape_configs: []\n"))
    port = free_port()
    log = work / "prometheus.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [PROMETHEUS, f"--config.file={work / 'prometheus.yml'}",
             f"--storage.tsdb.path={tsdb}", f"--web.listen-address=127.0.0.1:{port}",
             "--storage.tsdb.retention.time=30d", f"--query.lookback-delta={lookback}",
             "--log.level=warn"],
            stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    server = PrometheusServer(f"http://127.0.0.1:{port}", process, work)
    try:
        _wait_ready(server.url, process, 120, log)
        yield server
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


@contextlib.contextmanager
def backfilled_prometheus(fleet: Fleet | None = None) -> Iterator[PrometheusServer]:
    """Backfill a fresh TSDB with `fleet` (default 2,000 hosts, 100,000 VMs) and serve it."""
    fleet = fleet or Fleet()
    tsdb = Path(tempfile.mkdtemp(prefix="nc-tsdb-"))
    try:
        info = backfill(fleet, tsdb)
        started = time.perf_counter()
        with run_prometheus(tsdb) as server:
            info["startup_s"] = time.perf_counter() - started
            server.info = info
            yield server
    finally:
        shutil.rmtree(tsdb, ignore_errors=True)


# -- a counting proxy: the honest way to count queries and bytes -----------------------------


@dataclass
class Traffic:
    """What went through a `CountingProxy`."""

    requests: int = 0
    bytes_in: int = 0
    """Response bytes as they crossed the wire (compressed when the client asked for gzip)."""
    paths: list[str] = field(default_factory=list)

    def reset(self) -> None:
        self.requests, self.bytes_in, self.paths = 0, 0, []


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.open_connections.add(self.connection)

    def finish(self) -> None:
        with self.server.lock:
            self.server.open_connections.discard(self.connection)
        super().finish()

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("host", "connection", "keep-alive")}
        upstream = http.client.HTTPConnection(self.server.upstream, timeout=120)
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            resp = upstream.getresponse()
            data = resp.read()
        finally:
            upstream.close()
        with self.server.lock:
            self.server.traffic.requests += 1
            self.server.traffic.bytes_in += len(data)
            self.server.traffic.paths.append(self.path.split("?")[0])
        self.send_response(resp.status)
        for key, value in resp.getheaders():
            if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _forward


class _ProxyServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    upstream: str
    traffic: Traffic
    lock: threading.Lock
    open_connections: set[socket.socket]


@contextlib.contextmanager
def counting_proxy(upstream_url: str, port: int = 0) -> Iterator[tuple[str, Traffic]]:
    """Yield (proxy URL, traffic counters) for a plain HTTP proxy in front of `upstream_url`.

    Pass the `port` of an earlier proxy to bring "Prometheus" back at the same URL.
    """
    server = _ProxyServer(("127.0.0.1", port), _ProxyHandler)
    server.upstream = upstream_url.removeprefix("http://").rstrip("/")
    server.traffic = Traffic()
    server.lock = threading.Lock()
    server.open_connections = set()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.traffic
    finally:
        server.shutdown()
        server.server_close()
        with server.lock:  # like a dead server: kept-alive client connections drop too
            for conn in server.open_connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)


# -- servers that misbehave ------------------------------------------------------------------


def refused_url() -> str:
    """A URL where nothing listens: connecting is refused at once."""
    return f"http://127.0.0.1:{free_port()}"


@contextlib.contextmanager
def never_answering_server() -> Iterator[str]:
    """A server that accepts connections, reads nothing, and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                conn, _ = listener.accept()
                held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=2)
        for conn in held:
            conn.close()
        listener.close()


@contextlib.contextmanager
def garbage_server(body: bytes = b'{"status":"success","data":{"resultType":"vector","res',
                   status: int = 200,
                   content_type: str = "application/json") -> Iterator[str]:
    """An HTTP server answering every request with `body` (truncated JSON by default)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
