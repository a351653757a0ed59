"""The built-in demo fleet: libvirt test-driver hosts described by XML files shipped here.

`test:///abs/path/host.xml` makes libvirt serve each file as a full hypervisor in-process, so a
new user sees a realistic console (and the tests a real libvirt API) with no daemon running.
The files are written by `python -m console.demo.generate` and committed.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent


def host_files() -> list[Path]:
    return sorted(HERE.glob("*.xml"))


def host_uris() -> list[tuple[str, str]]:
    """(host name, test-driver URI) for every demo host."""
    return [(path.stem, f"test://{path}") for path in host_files()]
