"""A backend kind from outside the project plugs in by entry point alone.

`tests/plugin_example/novacron_toy` is installed the way an installer would (its package and
a `.dist-info` with `entry_points.txt`) into a temporary directory on `PYTHONPATH`; then the
real `novacron` command, in a fresh process, validates a context naming `kind = "toy"`, lists
its VMs and starts one through the dispatcher (audited). No file of `console/`, `screens/` or
`backends/` mentions the toy kind.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "tests" / "plugin_example" / "novacron_toy"
NOVACRON = Path(sys.executable).with_name("novacron")


@pytest.fixture
def installed(tmp_path: Path) -> dict[str, str]:
    site = tmp_path / "site"
    shutil.copytree(PLUGIN, site / "novacron_toy")
    info = site / "novacron_toy-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: novacron-toy\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[novacron.backends]\ntoy = novacron_toy.source:KIND\n")
    fleet = tmp_path / "toys.json"
    fleet.write_text(json.dumps({"vms": {"t-0001": {"name": "toy-1", "state": "stopped"},
                                         "t-0002": {"name": "toy-2", "state": "running"}}}))
    config = tmp_path / "config.toml"
    config.write_text(f'[[contexts.toys.backends]]\nkind = "toy"\nname = "toybox"\n'
                      f'path = "{fleet}"\n')
    return {**os.environ, "PYTHONPATH": str(site), "NOVACRON_CONFIG": str(config)}


def novacron(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(NOVACRON), "--context", "toys", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_an_installed_kind_lists_its_vms_and_takes_an_action(installed: dict[str, str]) -> None:
    listed = novacron(installed, "vm", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert {(vm["name"], vm["state"]) for vm in json.loads(listed.stdout)} == {
        ("toy-1", "stopped"), ("toy-2", "running")}

    started = novacron(installed, "vm", "start", "toy-1")
    assert started.returncode == 0, started.stderr
    after = novacron(installed, "vm", "list", "--json")
    assert ("toy-1", "running") in {(vm["name"], vm["state"]) for vm in json.loads(after.stdout)}

    audit = novacron(installed, "audit", "--json")
    rows = json.loads(audit.stdout)
    assert rows[0]["action"] == "vm.start" and rows[0]["status"] == "ok"
    assert rows[0]["target_name"] == "toy-1"


def test_a_config_key_the_kind_does_not_have_is_named(installed: dict[str, str],
                                                      tmp_path: Path) -> None:
    config = Path(installed["NOVACRON_CONFIG"])
    config.write_text(config.read_text() + "colour = 'blue'\n")
    result = novacron(installed, "vm", "list")
    assert result.returncode == 2
    assert "unknown key" in result.stderr and "colour" in result.stderr


def test_without_the_distribution_the_kind_is_unknown(installed: dict[str, str]) -> None:
    env = {k: v for k, v in installed.items() if k != "PYTHONPATH"}
    result = novacron(env, "vm", "list")
    assert result.returncode == 2
    assert "no backend of kind 'toy' is installed" in result.stderr


def test_no_core_file_names_the_toy_kind() -> None:
    core = [p for d in ("console", "screens", "backends", "widgets")
            for p in (ROOT / d).rglob("*.py")]
    assert core and not [p for p in core if "novacron_toy" in p.read_text() or
                         '"toy"' in p.read_text()]
