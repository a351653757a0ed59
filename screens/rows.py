"""Pure conversion of models into table rows: what each inventory column shows."""

from __future__ import annotations

from console.errors import Code
from console.fleet.capacity import HostCapacity
from console.models import VM, Host, VMState
from widgets.format import human_bytes, human_duration
from widgets.resource_table import Column, Row

VM_COLUMNS = (
    Column("name", "NAME", 0, min_width=16),
    Column("state", "STATE", 9, status=True),
    Column("host", "HOST", 12, drop=2),
    Column("vcpus", "vCPU", 4, align="right", drop=3),
    Column("memory", "MEMORY", 9, align="right", drop=3),
    Column("tags", "TAGS", 0, min_width=12, drop=5),
    Column("backend", "BACKEND", 12, drop=6),
    Column("age", "AGE", 5, align="right", drop=4),
    Column("cpu_trend", "CPU", 8, drop=7),
)

_STATUS = {
    VMState.RUNNING: "running",
    VMState.STOPPED: "stopped",
    VMState.PAUSED: "paused",
    VMState.SUSPENDED: "paused",
    VMState.MIGRATING: "migrating",
    VMState.CRASHED: "error",
    VMState.UNKNOWN: "error",
    VMState.PENDING: "migrating",
}


def vm_row(vm: VM, cpu_trend: str = "") -> Row:
    """One inventory row. Stale rows show their age; fresh ones show '-' (just polled).

    `cpu_trend` is a sparkline of recent CPU use (empty when the source reports none)."""
    state = vm.state.value + ("?" if vm.stale else "")
    return Row(
        key=vm.key,
        cells=(
            vm.name,
            state,
            vm.host,
            str(vm.vcpus),
            human_bytes(vm.memory_bytes),
            ",".join(vm.tags),
            vm.backend,
            human_duration(vm.age_s) if vm.stale else "-",
            cpu_trend,
        ),
        status=_STATUS.get(vm.state, ""),
        stale=vm.stale,
    )


HOST_COLUMNS = (
    Column("name", "HOST", 0, min_width=12),
    Column("state", "STATE", 6, status=True),
    Column("vms", "VMs", 7, align="right"),
    Column("vcpu", "vCPU ALLOC/CAP", 15, align="right", drop=2),
    Column("overcommit", "OVERCOMMIT", 10, align="right"),
    Column("memory", "MEM ALLOC/CAP", 19, align="right", drop=3),
    Column("mem_bar", "MEM ALLOC", 14, bar=True),
    Column("cpu_used", "CPU USED", 14, bar=True, drop=4),
    Column("mem_used", "MEM USED", 14, bar=True, drop=5),
    Column("headroom", "MEM FREE", 10, align="right", drop=1),
    Column("cpu_trend", "CPU TREND", 10, drop=6),
)

_HOST_STATUS = {"up": "running", "stale": "stale", "down": "error"}


UNKNOWN = "?"
"""A capacity the source does not report (a Prometheus inventory without node_exporter): never
shown as 0, which would make every host look overcommitted with negative headroom."""


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


_HOST_KEY_TROUBLE = {code.code: code.message.lower() for code in
                     (Code.HOST_KEY_UNKNOWN, Code.HOST_KEY_CHANGED, Code.HOST_KEY_REVOKED)}


def host_key_trouble(host: Host) -> str:
    """"host key unknown/changed/revoked" when that is why the host is not reached, else ''.

    Said on the host's own row: such a host is refused (no connection is made), which an
    operator must not mistake for an ordinary outage."""
    return _HOST_KEY_TROUBLE.get(host.error.split(":", 1)[0], "") if host.error else ""


def host_detail(host: Host) -> str:
    """The line under the hosts table for the selected host: why it is not reached (the
    backend's own words), else what its kernel says (an SSH-reached host's /proc)."""
    if host.error:
        return f"{host.name}: {host.error}"
    if host.uptime_s is None:
        return ""
    parts = [host.name]
    if host.load_1m is not None:
        parts.append(f"load {host.load_1m:.2f} {host.load_5m or 0:.2f} {host.load_15m or 0:.2f}")
    if host.memory_available_bytes is not None:
        parts.append(f"{human_bytes(host.memory_available_bytes)} available")
    parts.append(f"up {human_duration(host.uptime_s)}")
    return "  ".join(parts) + "  (its /proc, over SSH)"


def host_label(host: Host, trouble: str = "") -> str:
    """The HOST cell: a host in a cluster (vSphere) is shown as `cluster/host`, so sorting by
    name groups a cluster's hosts together; a refused host key is said beside the name."""
    name = f"{host.cluster}/{host.name}" if host.cluster else host.name
    return f"{name} ({trouble})" if trouble else name


def host_row(cap: HostCapacity, cpu_trend: str = "") -> Row:
    """One hosts-screen row: allocation vs capacity, use, and what is left."""
    host = cap.host
    trouble = host_key_trouble(host)
    used_ratio = None
    if cap.memory_used is not None and host.memory_bytes:
        used_ratio = cap.memory_used / host.memory_bytes
    return Row(
        key=host.backend + "/" + host.name,
        cells=(
            host_label(host, trouble),
            host.state.value,
            f"{cap.running}/{cap.vm_count}",
            f"{cap.vcpus_allocated}/{host.cpus or UNKNOWN}",
            "-" if cap.overcommit is None else f"{cap.overcommit:.2f}x",
            f"{human_bytes(cap.memory_allocated)}/"
            f"{human_bytes(host.memory_bytes) if host.memory_bytes else UNKNOWN}",
            _ratio(cap.memory_ratio),
            _ratio(host.cpu_usage),
            _ratio(used_ratio),
            human_bytes(cap.memory_headroom) if host.memory_bytes else UNKNOWN,
            cpu_trend,
        ),
        status=_HOST_STATUS.get(host.state.value, ""),
        stale=host.stale,
    )
