"""The demo's own Prometheus, real binaries: a day of history, live figures that continue it,
the alerts its rules fire, and no Prometheus left behind by a console that quit or was killed.

Each test asks Prometheus over HTTP what an operator would see on the metrics screen, and the
process table whether anything is left running.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from console.demo.prometheus import DemoPrometheus, Record, binaries, start_time_of
from console.demo.workload import fleet

pytestmark = pytest.mark.integration

TOOLS = binaries()
EXPORTED = sorted(vm.name for host in fleet() for vm in host.vms if vm.exported)
HOT = next(vm for host in fleet() for vm in host.vms if vm.name == "build-prod-01")


def tools() -> tuple[str, str]:
    assert TOOLS is not None, "prometheus and promtool must be installed (make setup does)"
    return TOOLS


def query(url: str, promql: str, at: float | None = None) -> list[dict]:
    params = {"query": promql} | ({"time": f"{at:.3f}"} if at is not None else {})
    with urllib.request.urlopen(f"{url}/api/v1/query?{urllib.parse.urlencode(params)}",
                                timeout=10) as resp:
        return json.load(resp)["data"]["result"]


def firing(url: str) -> set[tuple[str, str]]:
    with urllib.request.urlopen(f"{url}/api/v1/alerts", timeout=10) as resp:
        alerts = json.load(resp)["data"]["alerts"]
    return {(a["labels"]["alertname"], a["labels"].get("domain") or a["labels"]["instance"])
            for a in alerts if a["state"] == "firing"}


def wait_until(predicate, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"after {timeout_s:g} s: {what}"
        time.sleep(0.2)


def gone(pid: int, start_time: int) -> bool:
    return start_time_of(pid) != start_time


def record_of(state: Path) -> Record:
    return Record(**json.loads((state / "demo-prometheus" / "prometheus.pid").read_text()))


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One state directory for the module: the day of history is written once."""
    return tmp_path_factory.mktemp("demo-state")


def test_a_day_of_history_joined_by_live_figures_and_three_alerts(state: Path) -> None:
    first = DemoPrometheus(state, tools())
    first.start()
    try:
        assert first.wait_ready(90), f"not ready: {first.error}; see {first.log_file}"
        assert first.backfilled.wait(300), "the day of history was not written"
        pid = record_of(state)
    finally:
        first.stop()
    assert gone(pid.pid, pid.start_time), "quitting left the demo Prometheus running"
    assert not first.pid_file.exists()

    # The next start finds the day on disk (and backfills only the minutes since).
    second = DemoPrometheus(state, tools())
    url = second.start()
    try:
        assert second.wait_ready(90), f"not ready: {second.error}; see {second.log_file}"
        now = time.time()
        day_ago = query(url, "libvirt_domain_state_code", now - 23.5 * 3600)
        assert sorted(r["metric"]["domain"] for r in day_ago) == EXPORTED

        # The CPU rate of the hot VM, 12 hours ago (backfilled) and now (scraped), is the
        # workload's own figure: history and live series are one series.
        rate = 'rate(libvirt_domain_info_cpu_time_seconds_total{domain="build-prod-01"}[5m])'
        for at in (now - 12 * 3600, None):
            wait_until(lambda at=at: query(url, rate, at), 30, f"no rate at {at}")
            got = float(query(url, rate, at)[0]["value"][1])
            t = at if at is not None else time.time()
            want = (HOT.cpu.total(t) - HOT.cpu.total(t - 300)) / 300
            assert got == pytest.approx(want, rel=0.03), (at, got, want)

        expected = {("HostCPUHigh", "kvm-ams-02"), ("VMCPUSaturated", "build-prod-01"),
                    ("VMMemoryPressure", "pg-prod-01")}
        wait_until(lambda: firing(url) == expected, 60, f"firing {firing(url)}, not {expected}")
    finally:
        second.stop()
    assert not second.pid_file.exists()


KILLED_CONSOLE = """
import sys, time
from pathlib import Path
from console.demo.prometheus import DemoPrometheus, binaries
p = DemoPrometheus(Path(sys.argv[1]), binaries(), history_s=900)
p.start()
assert p.wait_ready(90), p.error
print(p.pid, flush=True)
time.sleep(600)
"""


def test_a_killed_console_leaves_no_prometheus_and_the_next_start_cleans_up(state: Path) -> None:
    console = subprocess.Popen([sys.executable, "-c", KILLED_CONSOLE, str(state)],
                               stdout=subprocess.PIPE, text=True)
    try:
        line = console.stdout.readline() if console.stdout else ""
        assert line.strip().isdigit(), f"the console did not start its Prometheus: {line!r}"
        killed = record_of(state)
        assert killed.pid == int(line)
    finally:
        console.send_signal(signal.SIGKILL)
        console.wait()
    wait_until(lambda: gone(killed.pid, killed.start_time), 20,
               "the killed console's Prometheus is still running")

    # A Prometheus that outlived its console (another OS, a signal it ignored): simulated by
    # a live one whose pid file names a console that is gone. The next start stops it.
    survivor = DemoPrometheus(state, tools(), history_s=900)
    survivor.start()
    assert survivor.wait_ready(90), survivor.error
    orphan = record_of(state)
    dead = subprocess.Popen(["true"])
    dead.wait()
    (state / "demo-prometheus" / "prometheus.pid").write_text(json.dumps(
        {**json.loads((state / "demo-prometheus" / "prometheus.pid").read_text()),
         "owner_pid": dead.pid, "owner_start_time": 1}))
    fresh = DemoPrometheus(state, tools(), history_s=900)
    fresh.start()
    try:
        assert not fresh.shared
        assert fresh.wait_ready(90), fresh.error
        assert gone(orphan.pid, orphan.start_time), "the orphaned Prometheus was not stopped"
        now = record_of(state)
        assert (now.pid, now.owner_pid) == (fresh.pid, os.getpid())

        # A second console while this one runs shares its Prometheus, and leaves it running.
        second = DemoPrometheus(state, tools())
        assert second.start() == fresh.url and second.shared
        second.stop()
        assert not gone(now.pid, now.start_time)
        wait_until(lambda: query(fresh.url, "libvirt_up"), 30, "the shared one stopped answering")
    finally:
        fresh.stop()
        survivor.stop()
    assert gone(now.pid, now.start_time)


SAME_INSTANT_CONSOLE = """
import sys, time
from pathlib import Path
from console.demo.prometheus import DemoPrometheus, binaries
p = DemoPrometheus(Path(sys.argv[1]), binaries(), history_s=900)
while time.time() < float(sys.argv[2]):
    pass  # both consoles leave this loop at the same instant
url = p.start()
ready = p.wait_ready(90)
print(url, p.shared, ready, p.error, flush=True)
sys.stdin.read()  # keep it (and its Prometheus) until the test is done
p.stop()
"""


def test_two_consoles_started_at_the_same_instant_share_one_prometheus(
        tmp_path: Path) -> None:
    """Both ask for the demo's Prometheus at once: one starts it, the other shares it (the
    same URL, ready), and one Prometheus runs over the data directory, not two fighting for
    its lock."""
    go = time.time() + 3  # both interpreters are up by then
    consoles = [subprocess.Popen([sys.executable, "-c", SAME_INSTANT_CONSOLE, str(tmp_path),
                                  str(go)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 text=True) for _ in range(2)]
    try:
        said = [c.stdout.readline().split(" ", 3) if c.stdout else [] for c in consoles]
        assert all(len(s) == 4 for s in said), said
        urls = {s[0] for s in said}
        assert len(urls) == 1, said
        assert sorted(s[1] for s in said) == ["False", "True"], said  # one owner, one sharer
        assert all(s[2] == "True" for s in said), said  # both reach a ready Prometheus
        data = str(tmp_path / "demo-prometheus")
        running = [pid for pid in os.listdir("/proc") if pid.isdigit()
                   and _cmdline_of(pid).split(" ")[0].endswith("/prometheus")
                   and data in _cmdline_of(pid)]
        assert len(running) == 1, running
    finally:
        for c in consoles:
            if c.stdin:
                c.stdin.close()
        for c in consoles:
            c.wait(60)


def _cmdline_of(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


SHARING_CONSOLE = """
import os, sys
from pathlib import Path
from console.demo.prometheus import DemoPrometheus, binaries
p = DemoPrometheus(Path(sys.argv[1]), binaries(), history_s=900)
url = p.start()
print(url, p.shared, p.wait_ready(90), flush=True)
for line in sys.stdin:  # "check": is Prometheus at our URL ready (again), and who owns it?
    print(p.wait_ready(90), p.shared, os.getpid(), flush=True)
p.stop()
"""


def test_a_sharing_console_takes_over_when_the_owner_quits(tmp_path: Path) -> None:
    """The second console shares the first one's Prometheus; when the first quits (taking
    its Prometheus along), the second starts one on the same URL and its metrics return."""
    def console() -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-c", SHARING_CONSOLE, str(tmp_path)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    owner = console()
    sharer = None
    try:
        assert owner.stdout is not None
        url, shared, ready = owner.stdout.readline().split()
        assert (shared, ready) == ("False", "True")
        sharer = console()
        assert sharer.stdout is not None and sharer.stdin is not None
        assert sharer.stdout.readline().split() == [url, "True", "True"]
        owned_by_first = record_of(tmp_path)

        assert owner.stdin is not None
        owner.stdin.close()  # the first console quits; its Prometheus stops with it
        owner.wait(60)
        assert gone(owned_by_first.pid, owned_by_first.start_time)

        sharer.stdin.write("check\n")
        sharer.stdin.flush()
        ready, shared, pid = sharer.stdout.readline().split()
        assert (ready, shared) == ("True", "False"), (ready, shared)
        now = record_of(tmp_path)
        assert now.owner_pid == int(pid) and now.port == owned_by_first.port
        # The history is still there behind the same URL (4 minutes back: the part written
        # before a start; older blocks written while Prometheus runs show at its next
        # once-a-minute reload).
        four_min_ago = time.time() - 240
        wait_until(lambda: query(url, "libvirt_domain_state_code", four_min_ago), 30,
                   "no history 4 minutes back after the take-over")
    finally:
        for proc in (owner, sharer):
            if proc is not None and proc.poll() is None:
                if proc.stdin:
                    proc.stdin.close()
                proc.wait(60)
