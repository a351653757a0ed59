"""The machine's mount-point directories (/var/lib/libvirt, …) that the lab had to create.

A bind mount needs its target to exist on the shared filesystem. On a machine without
`libvirt-daemon-system` these directories do not exist, so the first lab creates them and the
last lab to go down removes them. Several labs (a user's, a test session's) can overlap, so
the list lives in one registry beside the kernel cache rather than in one lab's state, and a
directory some namespace still mounts over is never removed (that would detach the mount there).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from pathlib import Path

from console.lab.namespace import mounted_in_any_namespace


def _read(registry: Path) -> list[str]:
    try:
        return list(json.loads(registry.read_text()))
    except (OSError, ValueError):
        return []


def _write(registry: Path, dirs: Iterable[str]) -> None:
    kept = sorted(set(dirs))
    if kept:
        registry.parent.mkdir(parents=True, exist_ok=True)
        registry.write_text(json.dumps(kept) + "\n")
    else:
        registry.unlink(missing_ok=True)


def ensure(targets: Iterable[str], registry: Path) -> list[str]:
    """Create the missing targets; return those created now (also added to the registry)."""
    created = []
    for target in targets:
        if not Path(target).exists():
            Path(target).mkdir(parents=True)
            created.append(target)
    if created:
        _write(registry, [*_read(registry), *created])
    return created


def release(own: Iterable[str], registry: Path) -> list[str]:
    """Remove created directories no namespace uses any more; return what was removed."""
    candidates = sorted(set(own) | set(_read(registry)), reverse=True)
    removed = []
    for target in candidates:
        path = Path(target)
        if path.exists() and not mounted_in_any_namespace(target):
            with contextlib.suppress(OSError):  # not empty: someone put something there
                path.rmdir()
        if not path.exists():
            removed.append(target)
    _write(registry, [d for d in _read(registry) if d not in removed])
    return removed
