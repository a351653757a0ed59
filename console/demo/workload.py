"""What the demo fleet is doing at any instant: CPU, memory, disk and network of every host
and VM, as pure functions of time.

Why closed forms: the same figures are written twice, as a 24-hour history backfilled into
Prometheus and as the live exporter Prometheus scrapes afterwards, and the two must join
without a seam (a counter that jumped would show as a spike in every chart). Every load is a
constant plus a few sines, so each counter is its exact integral, computable for any `t`,
and any two runs (or a history extended a day later) agree sample for sample.

The hosts and VMs are read from the demo's test-driver XML files (names, UUIDs, sizes, run
states), so Prometheus and libvirt describe the same fleet.
"""

from __future__ import annotations

import hashlib
import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from console.demo import host_files

DAY = 86400.0
EPOCH = 1_767_225_600.0
"""2026-01-01 UTC: every counter counts from here (a fixed origin keeps them reproducible)."""

RUNNING, PAUSED, SHUTOFF, CRASHED, SUSPENDED = 1, 3, 5, 6, 7
EXPORTED_STATES = frozenset({RUNNING, PAUSED, CRASHED, SUSPENDED})
"""The libvirt exporter lists every domain but shut-off ones."""

# role -> (CPU busy fraction of its vCPUs, memory used fraction, disk B/s, network B/s)
ROLE_LOAD: dict[str, tuple[float, float, float, float]] = {
    "web": (0.30, 0.55, 2e5, 4e6),
    "api": (0.40, 0.60, 3e5, 3e6),
    "pg": (0.45, 0.82, 2.5e7, 2e6),
    "redis": (0.15, 0.70, 1e5, 5e6),
    "kafka": (0.35, 0.75, 4e7, 3e7),
    "ci-runner": (0.55, 0.50, 8e6, 1e6),
    "mon": (0.25, 0.65, 3e6, 1e6),
    "vpn": (0.05, 0.30, 1e4, 8e5),
    "build": (0.55, 0.55, 1.2e7, 5e5),
    "search": (0.35, 0.80, 5e6, 2e6),
}
HOT_VMS = {"build-prod-01": 0.96}
"""A VM that runs near its vCPU limit all day: the `VMCPUSaturated` alert's subjects."""
FULL_VMS = {"pg-prod-01": 0.97}
"""VMs whose memory is nearly all used: the `VMMemoryPressure` alert's subject."""
BUSY_HOSTS = {"kvm-ams-02": 2.5}
"""Hosts whose guests work harder than their role's usual (the `HostCPUHigh` alert's subject:
an overcommitted small host)."""
HOST_OVERHEAD_CORES = 0.6
HOST_OVERHEAD_MEMORY = 6 * 2**30


@dataclass(frozen=True, slots=True)
class Wave:
    """`amplitude * sin(2π t / period + phase)`, and its integral."""

    amplitude: float
    period: float
    phase: float

    def at(self, t: float) -> float:
        return self.amplitude * math.sin(2 * math.pi * t / self.period + self.phase)

    def integral(self, t: float) -> float:
        """∫ from EPOCH to t (the antiderivative's value at EPOCH subtracted)."""
        w = 2 * math.pi / self.period
        return -self.amplitude / w * (math.cos(w * t + self.phase) - math.cos(w * EPOCH + self.phase))


@dataclass(frozen=True, slots=True)
class Load:
    """A positive rate: `base` plus waves whose amplitudes add up to less than `base`."""

    base: float
    waves: tuple[Wave, ...]

    def at(self, t: float) -> float:
        return self.base + sum(w.at(t) for w in self.waves)

    def total(self, t: float) -> float:
        """The counter: ∫ rate from EPOCH to t (never decreasing, as the rate stays > 0)."""
        return self.base * (t - EPOCH) + sum(w.integral(t) for w in self.waves)


def _phases(key: str, count: int) -> list[float]:
    digest = hashlib.sha256(key.encode()).digest()
    return [digest[i] / 256 * 2 * math.pi for i in range(count)]


def load(key: str, base: float, spread: float = 0.45) -> Load:
    """A day-shaped load around `base`: a daily swing, an hourly one and a fast ripple, with
    phases from `key` (each VM its own rhythm, the same in every run)."""
    daily, hourly, ripple = _phases(key, 3)
    amplitude = base * spread
    return Load(base, (Wave(amplitude * 0.5, DAY, daily), Wave(amplitude * 0.3, 3600.0, hourly),
                       Wave(amplitude * 0.2, 420.0, ripple)))


@dataclass(frozen=True, slots=True)
class DemoVM:
    name: str
    uuid: str
    host: str
    role: str
    vcpus: int
    memory_bytes: int
    state: int

    @property
    def exported(self) -> bool:
        return self.state in EXPORTED_STATES

    @property
    def running(self) -> bool:
        return self.state == RUNNING

    @property
    def cpu(self) -> Load:
        """CPU cores busy (zero unless running: a paused VM's counter stands still)."""
        if not self.running:
            return Load(0.0, ())
        fraction = HOT_VMS.get(self.name)
        if fraction is not None:  # steady near the limit: the alert holds all day
            return load(self.uuid + "cpu", fraction * self.vcpus, spread=0.03)
        pressure = BUSY_HOSTS.get(self.host)
        if pressure is not None:  # busy all day long, not only at the daily peak
            busy = min(0.8, ROLE_LOAD[self.role][0] * pressure)
            return load(self.uuid + "cpu", busy * self.vcpus, spread=0.06)
        return load(self.uuid + "cpu", ROLE_LOAD[self.role][0] * self.vcpus)

    def memory_used(self, t: float) -> float:
        fraction = FULL_VMS.get(self.name)
        if fraction is not None:
            return fraction * self.memory_bytes
        base = ROLE_LOAD[self.role][1] * self.memory_bytes
        return load(self.uuid + "mem", base, spread=0.1).at(t) if self.running else base

    def _io(self, what: str, index: int) -> Load:
        rate = ROLE_LOAD[self.role][index] if self.running else 0.0
        return load(self.uuid + what, rate, spread=0.8) if rate else Load(0.0, ())

    @property
    def disk_read(self) -> Load:
        return self._io("disk-read", 2)

    @property
    def disk_write(self) -> Load:
        return self._io("disk-write", 2)

    @property
    def net_rx(self) -> Load:
        return self._io("net-rx", 3)

    @property
    def net_tx(self) -> Load:
        return self._io("net-tx", 3)


@dataclass(frozen=True, slots=True)
class DemoHost:
    name: str
    cpus: int
    memory_bytes: int
    vms: tuple[DemoVM, ...]

    @property
    def busy(self) -> Load:
        """CPU cores busy: its VMs plus the host's own work, scaled down on an overcommitted
        host so it never exceeds its CPUs (the guests get less than they ask, as in life)."""
        waves: list[Wave] = []
        base = 0.0
        peak = 0.0
        for vm in self.vms:
            cpu = vm.cpu
            base += cpu.base
            waves += cpu.waves
            peak += cpu.base + sum(abs(w.amplitude) for w in cpu.waves)
        scale = min(1.0, (0.97 * self.cpus - HOST_OVERHEAD_CORES) / peak) if peak else 1.0
        return Load(HOST_OVERHEAD_CORES + base * scale,
                    tuple(Wave(w.amplitude * scale, w.period, w.phase) for w in waves))

    def idle_seconds(self, t: float, busy: Load | None = None) -> float:
        """One CPU's idle counter (every CPU of a host the same: the busy time shared out)."""
        busy = busy or self.busy
        return (t - EPOCH) - busy.total(t) / self.cpus

    def memory_available(self, t: float) -> float:
        used = sum(vm.memory_used(t) for vm in self.vms if vm.exported)
        return max(0.0, self.memory_bytes - HOST_OVERHEAD_MEMORY - used)


def _text(node: ET.Element, path: str) -> str:
    found = node.find(path)
    if found is None or found.text is None:
        raise ValueError(f"demo host file lacks <{path}>")
    return found.text.strip()


_UNITS = {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "b": 1, "bytes": 1}


def read_host(path: Path) -> DemoHost:
    """One host and its VMs from a test-driver XML file (see `console.demo.generate`)."""
    root = ET.parse(path).getroot()
    vms = []
    for dom in root.iter("domain"):
        memory = dom.find("memory")
        unit = memory.get("unit", "KiB") if memory is not None else "KiB"
        name = _text(dom, "name")
        tags = [tag.text or "" for tag in dom.iter("tag")]
        role = next((t.partition("=")[2] for t in tags if t.startswith("role=")), name.split("-")[0])
        state = dom.find("{http://libvirt.org/schemas/domain/test/1.0}runstate")
        vms.append(DemoVM(
            name=name, uuid=_text(dom, "uuid"), host=path.stem, role=role,
            vcpus=int(_text(dom, "vcpu")),
            memory_bytes=int(_text(dom, "memory")) * _UNITS[unit],
            state=int(state.text or RUNNING) if state is not None else RUNNING))
    return DemoHost(name=path.stem, cpus=int(_text(root, "cpu/active")),
                    memory_bytes=int(_text(root, "memory")) * 1024, vms=tuple(vms))


def fleet(paths: Iterable[Path] | None = None) -> Sequence[DemoHost]:
    """Every demo host with its VMs, as the test driver serves them."""
    return tuple(read_host(p) for p in (host_files() if paths is None else paths))
