"""The lab's one Prometheus, scraping every lab host's libvirt exporter every 2 s.

Adding hosts on a later `lab up` rewrites the config and sends SIGHUP (Prometheus reloads
without losing its series) instead of restarting.
"""

from __future__ import annotations

import json
import signal
import urllib.parse
import urllib.request
from collections.abc import Iterable

from console.lab.configs import prometheus_yml
from console.lab.layout import HostLayout, LabLayout
from console.lab.procs import Proc, is_alive, port_open, signal_proc, spawn, wait_port


def ensure(lab: LabLayout, hosts: Iterable[HostLayout], current: Proc | None) -> Proc:
    """Running Prometheus with a config naming exactly `hosts`."""
    directory = lab.prometheus_dir
    (directory / "data").mkdir(parents=True, exist_ok=True)
    config = directory / "prometheus.yml"
    text = prometheus_yml(hosts)
    changed = not config.exists() or config.read_text() != text
    config.write_text(text)
    if current is not None and is_alive(current):
        if changed:
            signal_proc(current, signal.SIGHUP)
        return current
    if port_open(lab.prometheus_port):
        raise RuntimeError(f"port {lab.prometheus_port} for Prometheus is taken by another process")
    log = directory / "prometheus.log"
    proc = spawn([
        "/usr/bin/prometheus", f"--config.file={config}",
        f"--storage.tsdb.path={directory / 'data'}",
        f"--web.listen-address=127.0.0.1:{lab.prometheus_port}",
        "--storage.tsdb.retention.time=1d",
    ], log)
    wait_port(lab.prometheus_port, proc, 30, "Prometheus", log)
    return proc


def query(url: str, promql: str, timeout: float = 5.0) -> list[dict]:
    """Instant query; the `result` list of the API's answer."""
    full = f"{url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    with urllib.request.urlopen(full, timeout=timeout) as resp:
        body = json.load(resp)
    if body.get("status") != "success":
        raise RuntimeError(f"Prometheus query failed: {body}")
    return body["data"]["result"]
