"""A real lab (libvirtd hosts in namespaces, guests, Prometheus) for integration tests.

Why a separate root and port offset: a user's own lab (`novacron lab up`, default root, ports
16511…) may be running on the same machine; the test lab must neither reuse nor tear it down.
The session fixture brings the lab up once; the function fixture `lab` re-runs the idempotent
`up`, which is a no-op when everything runs and repairs what a previous test broke (a killed
libvirtd, or the whole lab after a test that checks `down`).

Import the fixtures (both names) into a test module, as tests/integration/test_lab.py does.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.lab import preflight
from console.lab.lab import Lab

TEST_ROOT = Path(os.environ.get("NOVACRON_TEST_LAB_ROOT", "/var/lib/novacron-lab-test"))
PORT_OFFSET = int(os.environ.get("NOVACRON_TEST_LAB_PORT_OFFSET", "100"))
HOSTS = 3
VMS_PER_HOST = 4


def virsh(uri: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`virsh -c uri …`, output as text; never raises on a non-zero exit."""
    return subprocess.run(["virsh", "-c", uri, *args], capture_output=True, text=True,
                          timeout=timeout)


def guest_names(uri: str, *, all_states: bool = False) -> list[str]:
    """Names of running (or all) domains on one lab host, via virsh."""
    args = ["list", "--name"] + (["--all"] if all_states else [])
    out = virsh(uri, *args)
    assert out.returncode == 0, out.stderr
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


@pytest.fixture(scope="session")
def lab_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """The test lab for the whole session, removed at the end (skipped if it cannot run)."""
    if problems := preflight.problems():
        pytest.skip("lab cannot run here: " + "; ".join(problems))
    config = tmp_path_factory.mktemp("lab-config") / "config.toml"
    stale = Lab(root=TEST_ROOT)
    if stale.layout.state_file.exists():
        stale.down()  # a previous run died before its teardown
    lab = Lab(root=TEST_ROOT, config_path=config, port_offset=PORT_OFFSET)
    lab.up(HOSTS, VMS_PER_HOST)
    try:
        yield lab
    finally:
        lab.down()


@pytest.fixture
def lab(lab_session: Lab) -> Lab:
    """The session lab, brought back to 'everything up' before each test."""
    lab_session.up(HOSTS, VMS_PER_HOST)
    return lab_session
