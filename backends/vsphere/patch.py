"""Patch the last inventory with what the update stream reports, so a change costs no retrieval.

A power change, a rename or a resize arrives from `WaitForUpdatesEx` as a few changed
properties; applying them to the last inventory is enough to show it. Anything the patch cannot
rebuild exactly (a VM or host appearing or leaving, a vMotion, a changed IP or custom
attribute, a host's state) marks the inventory for a full retrieval instead. Pure: updates in, inventory out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from console.models import VMState
from console.sanitize import clean

from .inventory import MIB, POWER_STATES, Inventory

PATCHABLE = frozenset({"name", "runtime.powerState", "config.hardware.numCPU",
                       "config.hardware.memoryMB"})
"""VM properties a patch rebuilds exactly; any other change needs a full retrieval (a new host
also means a new cluster tag and CPU scale: a vMotion is read in full)."""


def changes(update_set: Any) -> list[tuple[str, str, str, list[tuple[str, Any]]]]:
    """(kind, type name, moid, [(property, value)]) of each object in a WaitForUpdatesEx
    answer; a removed property has the value None."""
    out = []
    for filter_update in update_set.filterSet or ():
        for update in filter_update.objectSet or ():
            props = [(c.name, None if c.op in ("remove", "indirectRemove") else c.val)
                     for c in update.changeSet or ()]
            out.append((str(update.kind), type(update.obj).__name__.rsplit(".", 1)[-1],
                        update.obj._moId, props))
    return out


def apply(inventory: Inventory, updates: Iterable[tuple[str, str, str, list[tuple[str, Any]]]]
          ) -> Inventory | None:
    """`inventory` with the updates applied (a new object; the old one is left as it was), or
    None when only a full retrieval can say what the inventory is now."""
    by_moid = {m: vm_id for vm_id, m in inventory.vm_moids.items()}
    index = {vm.id: i for i, vm in enumerate(inventory.vms)}
    vms = list(inventory.vms)
    for kind, type_name, ref, props in updates:
        if type_name != "VirtualMachine" or kind != "modify" or ref not in by_moid:
            return None
        if any(name not in PATCHABLE for name, _value in props):
            return None
        position = index[by_moid[ref]]
        vms[position] = _patched(vms[position], props)
    return dataclasses.replace(inventory, vms=vms)


def _patched(vm: Any, props: list[tuple[str, Any]]) -> Any:
    fields: dict[str, Any] = {}
    for name, value in props:
        if name == "name":
            fields["name"] = clean(value or vm.id)
        elif name == "runtime.powerState":
            fields["state"] = POWER_STATES.get(value or "", VMState.UNKNOWN)
            if fields["state"] is not VMState.RUNNING:
                fields["cpu_used_cores"] = None
        elif name == "config.hardware.numCPU":
            fields["vcpus"] = int(value or 0)
        elif name == "config.hardware.memoryMB":
            fields["memory_bytes"] = int(value or 0) * MIB
    return dataclasses.replace(vm, **fields)
