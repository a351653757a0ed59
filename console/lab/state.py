"""The lab's memory of what it made: every pid, mount, created directory and config edit.

`lab down` undoes exactly what this file lists — it never looks processes up by name — so the
file is written after each step of `lab up` (atomically: a crash mid-write leaves the old one).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console.lab.procs import Proc

VERSION = 1


@dataclass
class HostState:
    """One host's processes (by role) and the mounts made inside its namespace."""

    index: int
    procs: dict[str, Proc] = field(default_factory=dict)
    mounts: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "mounts": list(self.mounts),
                "procs": {role: p.to_json() for role, p in self.procs.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HostState:
        return cls(index=int(data["index"]), mounts=list(data.get("mounts", [])),
                   procs={r: Proc.from_json(p) for r, p in data.get("procs", {}).items()})


@dataclass
class LabState:
    """Everything `lab up` did, keyed so a second `lab up` can tell what is already there."""

    hosts: dict[str, HostState] = field(default_factory=dict)
    prometheus: Proc | None = None
    created_dirs: list[str] = field(default_factory=list)
    guests: list[str] = field(default_factory=list)
    config_path: str | None = None
    config_created: bool = False
    accel: str | None = None
    """'kvm' or 'qemu' (emulation), chosen once by the boot probe."""
    port_offset: int | None = None
    bastion: HostState | None = None
    """The bastion's namespace holder and sshd (index 0), once `lab up` started it."""
    postgres: Proc | None = None
    """The team-mode store's server (`lab up --store postgresql`)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "hosts": {name: h.to_json() for name, h in self.hosts.items()},
            "prometheus": self.prometheus.to_json() if self.prometheus else None,
            "created_dirs": list(self.created_dirs),
            "guests": list(self.guests),
            "config_path": self.config_path,
            "config_created": self.config_created,
            "accel": self.accel,
            "port_offset": self.port_offset,
            "bastion": self.bastion.to_json() if self.bastion else None,
            "postgres": self.postgres.to_json() if self.postgres else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LabState:
        if data.get("version") != VERSION:
            raise ValueError(f"unknown lab state version {data.get('version')!r}")
        prom, postgres = data.get("prometheus"), data.get("postgres")
        bastion = data.get("bastion")
        return cls(
            hosts={n: HostState.from_json(h) for n, h in data.get("hosts", {}).items()},
            prometheus=Proc.from_json(prom) if prom else None,
            created_dirs=list(data.get("created_dirs", [])),
            guests=list(data.get("guests", [])),
            config_path=data.get("config_path"),
            config_created=bool(data.get("config_created", False)),
            accel=data.get("accel"),
            port_offset=data.get("port_offset"),
            bastion=HostState.from_json(bastion) if bastion else None,
            postgres=Proc.from_json(postgres) if postgres else None,
        )


def load(path: Path) -> LabState:
    """The recorded state, or an empty one when the lab was never brought up."""
    if not path.exists():
        return LabState()
    return LabState.from_json(json.loads(path.read_text(encoding="utf-8")))


def save(path: Path, state: LabState) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state.to_json(), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
