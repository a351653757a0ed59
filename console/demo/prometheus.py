"""The demo's own Prometheus: a child process of the console on a free loopback port, over a
TSDB in the state directory that holds the demo fleet's last 24 hours, scraping the live
exporter, evaluating `alerts.yml`.

`start()` returns the URL at once and does the slow parts on a keeper thread (the first paint
never waits for Prometheus): it cleans up a Prometheus left by a console that was killed,
backfills the last minutes, starts a new one, then backfills the rest of the day. The keeper thread is the
child's parent: Linux sends the child SIGTERM if the console dies (`PR_SET_PDEATHSIG`), and
the pid file lets the next start clean up anything that still survived. A second console
opened on the demo while the first runs (or is still starting it) shares the first one's
Prometheus: the choice is made under a lock and the owner writes its port before it starts,
so two consoles opened at the same instant never both start one.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from console.demo import HERE
from console.demo.backfill import HISTORY_S, STEP_S, History, Span, background
from console.demo.exporter import Exporter
from console.demo.exposition import families
from console.demo.workload import fleet

log = logging.getLogger(__name__)

SCRAPE_S = 5.0
"""Scrape and rule-evaluation interval (the last minutes of history are backfilled as densely,
so rates are right from the first query)."""
RETENTION = "2d"
TAKEOVER_CHECK_S = 1.0
"""How often a sharing console checks that the owner of the demo's Prometheus still runs."""
RULES = HERE / "alerts.yml"
INSTALL_ADVICE = ("the demo's metrics come from Prometheus: install it (Debian/Ubuntu: "
                  "`apt install prometheus`, which brings promtool; or put both `prometheus` "
                  "and `promtool` on PATH), then restart the console")


def binaries() -> tuple[str, str] | None:
    """(prometheus, promtool) from PATH or /usr/bin, or None when either is missing."""
    found = [shutil.which(name) or shutil.which(name, path="/usr/bin")
             for name in ("prometheus", "promtool")]
    return (found[0], found[1]) if found[0] and found[1] else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_time_of(pid: int) -> int | None:
    """The kernel's start time of `pid` (with the pid, it names one process for good; the same
    idea as `console.lab.procs`, which this layer cannot import)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    return None if fields[0] == "Z" else int(fields[19])


@dataclass(frozen=True, slots=True)
class Record:
    """What the pid file says: our Prometheus, its port, and the console that owns it (pid 0:
    the owner chose the port and is still starting it)."""

    pid: int
    start_time: int
    port: int
    owner_pid: int
    owner_start_time: int

    def alive(self) -> bool:
        return start_time_of(self.pid) == self.start_time

    def owner_alive(self) -> bool:
        return start_time_of(self.owner_pid) == self.owner_start_time


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the thread that started it ends (Linux), and a
    lower CPU priority than the console's."""
    background()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class DemoPrometheus:
    """One demo Prometheus per state directory."""

    def __init__(self, state_dir: Path, tools: tuple[str, str], *, scrape_s: float = SCRAPE_S,
                 history_s: float = HISTORY_S) -> None:
        self.directory = state_dir / "demo-prometheus"
        self.prometheus, promtool = tools
        self.scrape_s = scrape_s
        self.history = History(self.directory, promtool, history_s=history_s)
        self.pid_file = self.directory / "prometheus.pid"
        self.log_file = self.directory / "prometheus.log"
        self.port = 0
        self.shared = False
        """True when another console's Prometheus is used (we neither own nor stop it)."""
        self.error = ""
        """Why the keeper gave up, when it did (also logged)."""
        self.backfilled = threading.Event()
        """Set once the missing history is in the data directory (or could not be made)."""
        self._exporter: Exporter | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> str:
        """Begin starting (or join a running demo Prometheus); returns its URL at once."""
        self.directory.mkdir(parents=True, exist_ok=True)
        owned, stale = self._claim(port=None)
        if owned:
            self._thread = threading.Thread(target=self._keep, args=(stale,),
                                            name="demo-prometheus", daemon=True)
        else:
            self.backfilled.set()
            self._thread = threading.Thread(target=self._watch_owner, name="demo-prometheus",
                                            daemon=True)
        self._thread.start()
        return self.url

    def _claim(self, port: int | None) -> tuple[bool, Record | None]:
        """Become the owner unless a live console already is one (it runs Prometheus or is
        starting it): (True, the record of a dead owner to clean up) or (False, the owner's).
        Decided under a lock; the owner's port is written before it starts, so two consoles
        opened at the same instant never both start one."""
        with (self.directory / "start.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # held for a file read and write, not the start
            record = self._record()
            if record is not None and record.owner_alive():  # running, or being started
                self.port, self.shared = record.port, True
                return False, record
            self.port = port or free_port()
            owner = os.getpid()
            self._write_record(Record(0, 0, self.port, owner, start_time_of(owner) or 0))
            self.shared = False
            self._exporter = Exporter(families(fleet()))
            return True, record

    def _watch_owner(self) -> None:
        """A sharing console: when the owner quits (its Prometheus goes with it), take over
        on the same port, so this console's metrics come back by themselves."""
        while not self._stopping.wait(TAKEOVER_CHECK_S):
            record = self._record()
            if record is not None and record.owner_alive():
                continue
            owned, stale = self._claim(port=self.port)
            if owned:
                log.info("the demo Prometheus' owner quit; this console runs it now")
                self._keep(stale)
                return

    def wait_ready(self, timeout_s: float) -> bool:
        """Block until Prometheus answers `/-/ready` (True), gives up, or `timeout_s` passes."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not self.error:
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as resp:
                    if resp.status == 200:
                        return True
            except OSError:
                pass
            time.sleep(0.1)
        return False

    def stop(self, timeout_s: float = 15.0) -> None:
        """Stop our Prometheus (and the exporter, and a backfill under way); wait for it."""
        self._stopping.set()
        self.history.cancel()
        if self._thread is not None:
            self._thread.join(timeout_s)

    # -- the keeper thread ------------------------------------------------------------------

    def _keep(self, stale: Record | None) -> None:
        recent, older = self.history.spans(time.time())
        try:
            if stale is not None:
                self._end_stale(stale)
            if older is not None:
                self.history.owe(older)
            if recent is not None:
                self._backfill(recent, self.scrape_s)  # before the start: whole first rates
            self._launch()
        except Exception as exc:  # shown on the metrics screen as "unreachable"; said in the log
            self.error = f"demo Prometheus did not start: {exc}"
            log.error("%s (see %s)", self.error, self.log_file)
            self.backfilled.set()
            self._shutdown()
            return
        try:
            if older is not None and self._backfill(older):
                self.history.settle()
        finally:
            self.backfilled.set()
        self._stopping.wait()
        self._shutdown()

    def _launch(self) -> None:
        config = self.directory / "prometheus.yml"
        assert self._exporter is not None
        config.write_text(prometheus_yml(self._exporter.port, self.scrape_s))
        with self.log_file.open("ab") as out:
            self._proc = subprocess.Popen([
                self.prometheus, f"--config.file={config}",
                f"--storage.tsdb.path={self.history.data}",
                f"--storage.tsdb.retention.time={RETENTION}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ], stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
                preexec_fn=_die_with_parent)
        started = start_time_of(self._proc.pid)
        if started is None:
            raise RuntimeError(f"prometheus exited at once; see {self.log_file}")
        owner = os.getpid()
        self._write_record(Record(self._proc.pid, started, self.port, owner,
                                  start_time_of(owner) or 0))
        self._exporter.start()

    def _backfill(self, span: Span, step_s: float = STEP_S) -> bool:
        """Write `span` of history into the TSDB; False if it failed or was cancelled."""
        started = time.monotonic()
        try:
            blocks = self.history.fill(span, step_s)
        except (OSError, RuntimeError) as exc:
            log.warning("demo history not backfilled: %s", exc)
            return False
        if self.history.cancelled.is_set():
            log.info("demo history: backfill cancelled (the next start finishes it)")
            return False
        log.info("demo history: %d block(s) for %.2f h in %.1f s", blocks,
                 (span[1] - span[0]) / 3600, time.monotonic() - started)
        return blocks > 0

    def _shutdown(self) -> None:
        if self._exporter is not None:
            self._exporter.stop()
        proc = self._proc
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        record = self._record()
        if record is not None and (record.port, record.owner_pid) == (self.port, os.getpid()):
            self.pid_file.unlink(missing_ok=True)  # ours, started or not

    # -- the pid file -----------------------------------------------------------------------

    def _record(self) -> Record | None:
        try:
            return Record(**json.loads(self.pid_file.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def _write_record(self, record: Record) -> None:
        tmp = self.pid_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(record)))
        os.replace(tmp, self.pid_file)

    def _end_stale(self, record: Record) -> None:
        """A Prometheus from a console that died: stop it (only if it is still that very
        process, running over our data directory), so the TSDB lock is free. The pid file
        already holds our own record (written by `start`)."""
        if record.alive() and str(self.history.data) in _cmdline(record.pid):
            log.info("stopping the demo Prometheus a previous console left (pid %d)", record.pid)
            os.kill(record.pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while record.alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            if record.alive():
                os.kill(record.pid, signal.SIGKILL)
                while record.alive():
                    time.sleep(0.05)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def prometheus_yml(exporter_port: int, scrape_s: float) -> str:
    """Scrape the live exporter (its series carry their own `instance` and `job`, kept with
    `honor_labels`) and evaluate the demo's alerting rules."""
    interval = f"{scrape_s:g}s"
    return (
        "# Written by the NovaCron demo at each start.\n"
        f"global:\n  scrape_interval: {interval}\n  evaluation_interval: {interval}\n"
        f"rule_files:\n  - {json.dumps(str(RULES))}\n"
        "scrape_configs:\n  - job_name: demo-exporter\n    honor_labels: true\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{exporter_port}']\n"
    )
