"""Pure conversion of models into table rows: what each inventory column shows."""

from __future__ import annotations

from console.models import VM, VMState
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


def vm_row(vm: VM) -> Row:
    """One inventory row. Stale rows show their age; fresh ones show '-' (just polled)."""
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
        ),
        status=_STATUS.get(vm.state, ""),
        stale=vm.stale,
    )
