"""The wheel installs anywhere: built from this checkout, installed into a fresh venv that holds
only the project's runtime dependencies (the locked versions, from uv's cache: no network),
then run from there as a user on a bastion would: `vm list --json` on the demo, and the console
itself started headless (Textual's headless driver, a screenshot, then it quits).

Runs offline: `make setup` has already put every locked dependency, and hatchling (the build
backend), in uv's cache.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
UV = ROOT / ".make-stamps" / "tools" / "bin" / "uv"


def uv(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    tool = str(UV) if UV.exists() else shutil.which("uv")
    assert tool, "uv not found: run `make setup`"
    out = subprocess.run([tool, *args], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, **(env or {})}, timeout=240)
    assert out.returncode == 0, f"uv {' '.join(args)}: {out.stderr[-2000:]}"
    return out


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `bin` directory of a fresh venv with the wheel installed."""
    work = tmp_path_factory.mktemp("wheel")
    uv("build", "--wheel", "--offline", "--out-dir", str(work / "dist"))
    wheels = list((work / "dist").glob("novacron_console-*.whl"))
    assert len(wheels) == 1, wheels
    venv = work / "venv"
    # The locked runtime dependencies (no dev tools, not the project) into a new venv…
    uv("sync", "--frozen", "--offline", "--no-dev", "--no-install-project", "--quiet",
       "--python", sys.executable, env={"UV_PROJECT_ENVIRONMENT": str(venv)})
    # …then the wheel itself, and a check that what it requires is what is there.
    python = str(venv / "bin" / "python")
    uv("pip", "install", "--offline", "--no-deps", "--python", python, str(wheels[0]))
    uv("pip", "check", "--python", python)
    return venv / "bin"


def user_env(tmp_path: Path) -> dict[str, str]:
    """No config (so the demo), a state directory of its own, and nothing from this checkout
    on the import path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, "NOVACRON_CONFIG": str(tmp_path / "none.toml"),
            "NOVACRON_STATE_DIR": str(tmp_path / "state")}


def test_the_installed_wheel_lists_the_demo_fleet(installed: Path, tmp_path: Path) -> None:
    out = subprocess.run([str(installed / "novacron"), "vm", "list", "--json"], cwd=tmp_path,
                         capture_output=True, text=True, env=user_env(tmp_path), timeout=120)
    assert out.returncode == 0, out.stderr
    vms = json.loads(out.stdout)
    assert len(vms) == 60
    assert {vm["host"] for vm in vms} == {"kvm-fra-01", "kvm-fra-02", "kvm-fra-03",
                                          "kvm-ams-01", "kvm-ams-02"}
    where = subprocess.run([str(installed / "python"), "-c", "import console; print(console.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, env=user_env(tmp_path))
    assert str(installed.parent) in where.stdout, f"not the installed copy: {where.stdout}"


def test_the_installed_console_starts_draws_the_demo_and_quits(installed: Path,
                                                               tmp_path: Path) -> None:
    """The real entry point, headless: Textual saves a screenshot after a few seconds and
    exits; the picture must show the demo's inventory, and its Prometheus must be gone."""
    env = {**user_env(tmp_path), "TEXTUAL_DRIVER": "textual.drivers.headless_driver:HeadlessDriver",
           "TEXTUAL_SCREENSHOT": "10", "TEXTUAL_SCREENSHOT_LOCATION": str(tmp_path),
           "TEXTUAL_SCREENSHOT_FILENAME": "console.svg"}
    out = subprocess.run([str(installed / "novacron")], cwd=tmp_path, capture_output=True,
                         text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    picture = (tmp_path / "console.svg").read_text()
    text = re.sub(r"<[^>]+>", "", picture).replace("&#160;", " ")
    assert "60 VMs/5 hosts" in text
    assert "api-prod-01" in text
    pid_file = tmp_path / "state" / "demo-prometheus" / "prometheus.pid"
    assert (tmp_path / "state" / "demo-prometheus" / "prometheus.yml").exists()  # it did start
    assert not pid_file.exists(), "the demo's Prometheus outlived the console"
