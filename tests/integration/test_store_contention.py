"""Two bastions contend for twenty VMs: the per-VM lock holds across processes and hosts.

Two consoles run in separate processes, each in a UTS namespace of its own (`unshare -u`,
then `hostname`), so each really has its own hostname, as two bastions would. Together they
make 500 action attempts on 20 VMs through the real dispatcher and store, on each engine.
Afterwards the audit is read with a connection of our own and must show that no VM ever had
two holders (the intervals of the actions that ran never overlap), and every attempt either
ran or was refused naming who held the VM.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

from tests.integration.postgres_fixture import ENGINES, query, store_location

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

CONTENDER = Path(__file__).with_name("store_contender.py")
BASTIONS = ("bastion-1", "bastion-2")
ATTEMPTS, VMS = 500, 20


@pytest.fixture(params=ENGINES)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return store_location(request.param, tmp_path)


def as_bastion(hostname: str, argv: list[str]) -> list[str]:
    """`argv` in a new UTS namespace whose hostname is `hostname`."""
    return ["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', hostname, *argv]


@pytest.mark.skipif(os.geteuid() != 0, reason="UTS namespaces need root (make test runs as root)")
def test_two_bastions_never_hold_one_vm_at_once(location: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    consoles = {}
    for number, host in enumerate(BASTIONS):
        argv = [sys.executable, str(CONTENDER), location, host, str(ATTEMPTS // len(BASTIONS)),
                str(VMS), str(int(time.time()) + number), "--ready", str(tmp_path / host),
                "--go", str(go)]
        consoles[host] = subprocess.Popen(as_bastion(host, argv), stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not all((tmp_path / host).exists() for host in BASTIONS):
        for host, console in consoles.items():
            if console.poll() is not None:
                raise AssertionError(f"{host} died while opening: {console.communicate()[1]}")
        assert time.monotonic() < deadline, "the consoles never got ready"
        time.sleep(0.01)
    go.touch()

    outcomes: dict[str, list[dict[str, object]]] = {}
    for host, console in consoles.items():
        out, err = console.communicate(timeout=240)
        assert console.returncode == 0, err
        outcomes[host] = [line for line in map(json.loads, out.splitlines()) if "n" in line]
    assert sum(len(o) for o in outcomes.values()) == ATTEMPTS

    # Every attempt ran, or was refused naming the holder: its action, operator and host.
    cross = 0
    for host, attempts in outcomes.items():
        for attempt in attempts:
            assert attempt["status"] in ("ok", "refused"), attempt
            if attempt["status"] == "refused":
                text = str(attempt["error"])
                assert attempt["code"] == "NOVA-3003", attempt
                assert "reboot, started by " in text and " from pid " in text, text
                named = [b for b in BASTIONS if f" on {b} " in text]
                assert len(named) == 1, text
                cross += named[0] != host

    # The audit, read on its own, shows each attempt once and never two holders of one VM.
    rows = query(location, "SELECT id, target_id, status, started_at, finished_at, hostname,"
                           " error_code FROM audit WHERE context = 'contention'")
    assert len(rows) == ATTEMPTS
    assert {r[0] for r in rows} == {a["audit_id"] for o in outcomes.values() for a in o}
    assert {r[5] for r in rows} == set(BASTIONS), "the consoles did not have their own hostnames"
    ran: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for _id, target, status, started, finished, host, code in rows:
        assert status in ("ok", "refused") and (status == "ok") == (code == ""), (status, code)
        if status == "ok":
            ran[str(target)].append((float(started), float(finished), str(host)))  # type: ignore[arg-type]
    for target, intervals in ran.items():
        intervals.sort()
        for (_s, end, first), (start, _e, second) in itertools.pairwise(intervals):
            assert start >= end, f"{target} held by {first} and {second} at once"

    # The test proved something only if both bastions ran actions and refused each other's.
    assert all(any(a["status"] == "ok" for a in o) for o in outcomes.values())
    assert cross > 0, "no console was ever refused by the other: nothing contended"
