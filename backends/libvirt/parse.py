"""Pure translation of libvirt data (domain XML, stats records, node info) into models.

Kept free of connections so it is unit-testable and so every string from libvirt passes
through `sanitize.clean` in exactly one place.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

import libvirt

from console.models import VM, Disk, Host, VMState
from console.sanitize import clean, clean_all

TAGS_NS = "https://novacron.dev/xmlns/tags/1"
"""Namespace of the `<metadata>` element that carries a domain's tags."""

_STATE: dict[int, VMState] = {
    libvirt.VIR_DOMAIN_NOSTATE: VMState.UNKNOWN,
    libvirt.VIR_DOMAIN_RUNNING: VMState.RUNNING,
    libvirt.VIR_DOMAIN_BLOCKED: VMState.RUNNING,
    libvirt.VIR_DOMAIN_PAUSED: VMState.PAUSED,
    libvirt.VIR_DOMAIN_SHUTDOWN: VMState.RUNNING,
    libvirt.VIR_DOMAIN_SHUTOFF: VMState.STOPPED,
    libvirt.VIR_DOMAIN_CRASHED: VMState.CRASHED,
    libvirt.VIR_DOMAIN_PMSUSPENDED: VMState.SUSPENDED,
}

_MIGRATION_REASONS = {
    libvirt.VIR_DOMAIN_RUNNING_MIGRATED,
    libvirt.VIR_DOMAIN_RUNNING_MIGRATION_CANCELED,
}


def vm_state(state: int, reason: int = 0) -> VMState:
    """Normalise libvirt's (state, reason) pair."""
    if state == libvirt.VIR_DOMAIN_PAUSED and reason == libvirt.VIR_DOMAIN_PAUSED_MIGRATION:
        return VMState.MIGRATING
    return _STATE.get(state, VMState.UNKNOWN)


@dataclass(frozen=True, slots=True)
class DomainDetails:
    """What changes only when a domain is redefined: read from its XML once, then cached."""

    vcpus: int
    memory_bytes: int
    disks: tuple[Disk, ...]
    tags: tuple[str, ...]
    macs: tuple[str, ...]


def _kib(elem: ET.Element | None) -> int:
    if elem is None or not (elem.text or "").strip():
        return 0
    value = int(elem.text.strip())  # type: ignore[union-attr]
    unit = (elem.get("unit") or "KiB").lower()
    factor = {"b": 1, "bytes": 1, "kib": 1024, "k": 1024, "mib": 1024**2, "m": 1024**2,
              "gib": 1024**3, "g": 1024**3, "tib": 1024**4, "t": 1024**4,
              "kb": 1000, "mb": 1000**2, "gb": 1000**3}.get(unit, 1024)
    return value * factor


def domain_details(xml: str) -> DomainDetails:
    """Parse the parts of a domain's XML that the inventory shows."""
    root = ET.fromstring(xml)
    vcpu = root.find("vcpu")  # `current` when it is below the maximum (live resize room)
    vcpu_text = ((vcpu.get("current") or vcpu.text or "0") if vcpu is not None else "0").strip()
    disks = []
    for disk in root.findall("./devices/disk"):
        if disk.get("device", "disk") != "disk":
            continue
        target = disk.find("target")
        source = disk.find("source")
        path = ""
        if source is not None:
            path = source.get("file") or source.get("dev") or source.get("name") or ""
        disks.append(Disk(target=clean(target.get("dev") if target is not None else "?"),
                          source=clean(path)))
    tags: list[str] = []
    tags_elem = root.find(f"./metadata/{{{TAGS_NS}}}tags")
    if tags_elem is not None:
        tags = [t.text or "" for t in tags_elem if t.text]
    macs = [m.get("address", "") for m in root.findall("./devices/interface/mac")]
    return DomainDetails(
        vcpus=int(vcpu_text) if vcpu_text.isdigit() else 0,
        memory_bytes=_kib(root.find("currentMemory")) or _kib(root.find("memory")),
        disks=tuple(disks),
        tags=clean_all(tags),
        macs=tuple(clean(m) for m in macs if m),
    )


def vm_from_stats(
    *,
    uuid: str,
    name: str,
    stats: dict[str, object],
    details: DomainDetails,
    host: str,
    backend: str,
    addresses: tuple[str, ...] = (),
) -> VM:
    """Combine one `getAllDomainStats` record with the cached XML details."""
    state = vm_state(int(stats.get("state.state", 0)), int(stats.get("state.reason", 0)))  # type: ignore[call-overload]
    vcpus = int(stats.get("vcpu.current", 0) or details.vcpus)  # type: ignore[call-overload]
    # What the guest has now (below its maximum after a balloon resize), else its maximum.
    balloon = int(stats.get("balloon.current", 0) or stats.get("balloon.maximum", 0) or 0)  # type: ignore[call-overload]
    return VM(
        id=uuid,
        name=clean(name),
        state=state,
        host=host,
        backend=backend,
        vcpus=vcpus,
        memory_bytes=balloon * 1024 if balloon else details.memory_bytes,
        disks=details.disks,
        addresses=addresses,
        tags=details.tags,
        cpu_time_ns=int(stats.get("cpu.time", 0) or 0),  # type: ignore[call-overload]
    )


def host_from_info(
    *, name: str, backend: str, uri: str, info: list[object], free_memory: int | None,
    hypervisor: str, arch: str,
) -> Host:
    """Build a Host from `virConnectGetInfo` ([model, MiB, cpus, MHz, nodes, sockets, …])."""
    return Host(
        id=f"{backend}",
        name=clean(name),
        backend=backend,
        hypervisor=clean(hypervisor),
        arch=clean(arch),
        cpu_model=clean(info[0]),
        cpus=int(info[2]),  # type: ignore[call-overload]
        memory_bytes=int(info[1]) * 1024 * 1024,  # type: ignore[call-overload]
        free_memory_bytes=free_memory or None,
        uri=uri,
    )


def host_arch(capabilities_xml: str) -> str:
    """The host CPU architecture from `virConnectGetCapabilities` (e.g. x86_64)."""
    try:
        root = ET.fromstring(capabilities_xml)
    except ET.ParseError:
        return ""
    return clean(root.findtext("./host/cpu/arch") or "")
