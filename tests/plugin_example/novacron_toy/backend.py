"""The toy fleet: `{"vms": {"<id>": {"name": ..., "state": "running"|"stopped"}}}` in a file."""

from __future__ import annotations

import json
from pathlib import Path

from console.errors import Code, NovaError
from console.models import VM, Host, VMState


class ToyBackend:
    kind = "toy"

    def __init__(self, name: str, path: Path, *, read_only: bool) -> None:
        self.name = name
        self.path = path
        self.read_only = read_only

    def _load(self) -> dict[str, dict[str, str]]:
        return dict(json.loads(self.path.read_text())["vms"])

    def _set(self, vm_id: str, state: VMState) -> None:
        vms = self._load()
        if vm_id not in vms:
            raise NovaError(Code.VM_NOT_FOUND, vm_id, f"not in {self.path}")
        vms[vm_id]["state"] = state.value
        self.path.write_text(json.dumps({"vms": vms}))

    async def hosts(self) -> list[Host]:
        return [Host(id="toy-host", name="toy-host", backend=self.name, cpus=4,
                     memory_bytes=8 << 30)]

    async def vms(self) -> list[VM]:
        return [VM(id=vm_id, name=vm["name"], state=VMState(vm["state"]), host="toy-host",
                   backend=self.name, vcpus=1, memory_bytes=1 << 30)
                for vm_id, vm in self._load().items()]

    async def close(self) -> None:
        return None

    # SupportsPower: all seven, as the protocol says
    async def start(self, vm_id: str) -> None:
        self._set(vm_id, VMState.RUNNING)

    async def shutdown(self, vm_id: str, timeout_s: float = 60.0) -> None:
        self._set(vm_id, VMState.STOPPED)

    async def reboot(self, vm_id: str) -> None:
        self._set(vm_id, VMState.RUNNING)

    async def force_off(self, vm_id: str) -> None:
        self._set(vm_id, VMState.STOPPED)

    async def suspend(self, vm_id: str) -> None:
        self._set(vm_id, VMState.PAUSED)

    async def resume(self, vm_id: str) -> None:
        self._set(vm_id, VMState.RUNNING)

    async def delete(self, vm_id: str, remove_storage: bool = False) -> list[str]:
        vms = self._load()
        vms.pop(vm_id, None)
        self.path.write_text(json.dumps({"vms": vms}))
        return []
