"""The dependency direction holds: backends never pull in the UI."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def test_import_linter_contracts_pass() -> None:
    result = subprocess.run([str(LINT_IMPORTS)], cwd=ROOT, capture_output=True, text=True,
                            timeout=240)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Backends know nothing of the UI KEPT" in output
    assert "BROKEN" not in output


def test_backends_import_without_textual_or_rich() -> None:
    code = textwrap.dedent("""
        import importlib, pkgutil, sys
        import backends
        for mod in pkgutil.walk_packages(backends.__path__, "backends."):
            importlib.import_module(mod.name)
        from backends import registry
        for kind in registry.available():
            registry.kind(kind)
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("textual", "rich"))
        print("UI:" + ",".join(loaded))
        print("BACKENDS:" + ",".join(sorted(m for m in sys.modules if m.startswith("backends."))))
    """)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(":", 1) for line in result.stdout.splitlines() if ":" in line)
    assert "backends.libvirt.backend" in lines["BACKENDS"]
    assert lines["UI"] == "", f"backends imported {lines['UI']}"


def test_registering_kinds_imports_no_sdk() -> None:
    """Validating a config loads every installed kind; none may drag its SDK in (start-up
    stays fast, and a kind whose SDK is missing breaks only the contexts that use it)."""
    code = textwrap.dedent("""
        import sys
        from backends import registry
        import console.config
        names = [k.name for k in registry.kinds()]
        sdks = ("libvirt", "boto3", "botocore", "azure", "pyVmomi", "asyncssh",
                "prometheus_api_client", "requests", "textual")
        print("KINDS:" + ",".join(names))
        print("SDKS:" + ",".join(sorted(m for m in sys.modules if m.split(".")[0] in sdks)))
    """)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(":", 1) for line in result.stdout.splitlines() if ":" in line)
    assert {"libvirt", "prometheus"} <= set(lines["KINDS"].split(","))
    assert lines["SDKS"] == "", f"loading the kinds imported {lines['SDKS']}"
