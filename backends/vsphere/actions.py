"""Lifecycle and snapshot actions on vSphere VMs: the `SupportsPower` and `SupportsSnapshots`
halves of `VsphereBackend`.

Each action reads the VM's power state first (one PropertyCollector call) so the operator
reads "already powered off" rather than a bare fault, then starts the vSphere task and follows
it from the event loop (`run_task`): no thread waits on it. Guest shutdown and reboot need
VMware Tools in the guest: when the server refuses for that (`ToolsUnavailable`) the refusal
says so and points at force-off; nothing falls back to a hard reset on its own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from pyVmomi import vim, vmodl

from console.errors import Code, NovaError
from console.models import Snapshot

from .errors import translate
from .inventory import properties_of

TASK_POLL_S = 0.25
SHUTDOWN_POLL_S = 0.5
SLOW_CALL_S = 120.0


class TaskRunner:
    """Starting a task and following it to its end, shared by the action mixins."""

    name: str
    timeout_s: float
    _call: Callable[..., Any]
    vm_ref: Callable[[Any, str], Any]
    vm_name: Callable[[str], str]
    _refuse_if_read_only: Callable[[str], None]

    async def run_task(self, start: Callable[..., Any], *args: Any, about: str,
                       timeout_s: float = SLOW_CALL_S, on_task: Callable[[Any], None] | None = None
                       ) -> Any:
        """`start(content, *args)` returns a task; wait for it (polling its state from the
        loop) and return its result, or raise its error as a NovaError about `about`."""
        task = await self._call(start, *args, about=about)
        if on_task is not None:
            on_task(task)
        deadline = time.monotonic() + timeout_s
        while True:
            info = await self._call(task_info, task, about=about)
            if info.get("info.state") == "success":
                return info.get("info.result")
            if info.get("info.state") == "error":
                error = info.get("info.error")
                raise translate(error, about) if error is not None else NovaError(
                    Code.BACKEND_ERROR, about, "the task failed without saying why")
            if time.monotonic() > deadline:
                raise NovaError(Code.TIMEOUT, about, f"vSphere task {task._moId} still running "
                                f"after {timeout_s:g} s (it goes on in vCenter)")
            await asyncio.sleep(TASK_POLL_S)

    async def power_state(self, vm_id: str) -> tuple[Any, str, str]:
        """(VM reference, name, power state) read in one call."""
        return await self._call(self._power_state, vm_id, about=self.vm_name(vm_id))

    def _power_state(self, content: Any, vm_id: str) -> tuple[Any, str, str]:
        vm = self.vm_ref(content, vm_id)
        props = properties_of(content, vm, ["name", "runtime.powerState"])
        return vm, props.get("name", vm_id), props.get("runtime.powerState", "")


def task_info(_content: Any, task: Any) -> dict[str, Any]:
    return properties_of(_content, task, ["info.state", "info.error", "info.result",
                                          "info.progress", "info.cancelable"])


def _not_state(name: str, state: str, why: str) -> NovaError:
    return NovaError(Code.INVALID_STATE, name, f"{why} (it is {state})")


class PowerMixin(TaskRunner):
    """Mixed into `VsphereBackend`: power on/off, guest shutdown/reboot, suspend, delete."""

    async def start(self, vm_id: str) -> None:
        self._refuse_if_read_only("start")
        vm, name, state = await self.power_state(vm_id)
        if state == "poweredOn":
            raise _not_state(name, state, "already running")
        await self.run_task(lambda _c: vm.PowerOnVM_Task(), about=name)

    async def shutdown(self, vm_id: str, timeout_s: float = 60.0) -> None:
        """Ask the guest (through VMware Tools) to shut down, then wait for poweredOff up to
        `timeout_s`; NOVA-2002 if it is still on, NOVA-4002 when Tools do not run."""
        self._refuse_if_read_only("shutdown")
        vm, name, state = await self.power_state(vm_id)
        if state != "poweredOn":
            raise _not_state(name, state, "not running")
        await self._call(self._guest_call, vm, "ShutdownGuest", name, about=name)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            _vm, _name, state = await self.power_state(vm_id)
            if state == "poweredOff":
                return
            await asyncio.sleep(SHUTDOWN_POLL_S)
        raise NovaError(Code.TIMEOUT, f"{name} is still running after {timeout_s:g} s",
                        "the guest did not act on the shutdown request; force-off is available")

    async def reboot(self, vm_id: str) -> None:
        """RebootGuest through VMware Tools; refused (never replaced by a hard reset) when
        Tools do not run or the server does not implement it."""
        self._refuse_if_read_only("reboot")
        vm, name, state = await self.power_state(vm_id)
        if state != "poweredOn":
            raise _not_state(name, state, "not running")
        await self._call(self._guest_call, vm, "RebootGuest", name, about=name)

    @staticmethod
    def _guest_call(_content: Any, vm: Any, method: str, name: str) -> None:
        try:
            getattr(vm, method)()
        except vim.fault.ToolsUnavailable as fault:
            raise translate(fault, name, "VMware Tools are not running in the guest, so it "
                            "cannot be asked; force-off is available") from fault
        except vmodl.fault.MethodNotFound as fault:
            raise translate(fault, name, f"this vSphere server does not implement {method}") from fault

    async def force_off(self, vm_id: str) -> None:
        self._refuse_if_read_only("force_off")
        vm, name, state = await self.power_state(vm_id)
        if state == "poweredOff":
            raise _not_state(name, state, "already powered off")
        await self.run_task(lambda _c: vm.PowerOffVM_Task(), about=name)

    async def suspend(self, vm_id: str) -> None:
        self._refuse_if_read_only("suspend")
        vm, name, state = await self.power_state(vm_id)
        if state != "poweredOn":
            raise _not_state(name, state, "not running")
        await self.run_task(lambda _c: vm.SuspendVM_Task(), about=name)

    async def resume(self, vm_id: str) -> None:
        self._refuse_if_read_only("resume")
        vm, name, state = await self.power_state(vm_id)
        if state != "suspended":
            raise _not_state(name, state, "not suspended")
        await self.run_task(lambda _c: vm.PowerOnVM_Task(), about=name)

    async def delete(self, vm_id: str, remove_storage: bool = False) -> Sequence[str]:
        """Power off if needed, then remove the VM: with `remove_storage`, Destroy_Task
        (vSphere deletes its files); without, UnregisterVM (out of the inventory, files kept
        on the datastore, so it can be registered again). Nothing is left behind unasked."""
        self._refuse_if_read_only("delete")
        vm, name, state = await self.power_state(vm_id)
        if state != "poweredOff":
            await self.run_task(lambda _c: vm.PowerOffVM_Task(), about=name)
        if remove_storage:
            await self.run_task(lambda _c: vm.Destroy_Task(), about=name)
        else:
            await self._call(lambda _c: vm.UnregisterVM(), about=name)
        return []


def walk(tree: Sequence[Any]) -> Iterator[Any]:
    """Every node of a snapshot tree, parents before children."""
    for node in tree or ():
        yield node
        yield from walk(node.childSnapshotList)


class SnapshotsMixin(TaskRunner):
    """Mixed into `VsphereBackend`: snapshots read from the tree the PropertyCollector
    returns, and acted on by name (names are unique per VM: `create_snapshot` makes sure)."""

    async def snapshots(self, vm_id: str) -> Sequence[Snapshot]:
        _vm, _name, nodes, current = await self._call(self._tree, vm_id, about=self.vm_name(vm_id))
        return [Snapshot(name=node.name, vm_id=vm_id, created_at=node.createTime.timestamp(),
                         state=str(node.state or ""), description=node.description or "",
                         current=node.snapshot._moId == current)
                for node in nodes]

    def _tree(self, content: Any, vm_id: str) -> tuple[Any, str, list[Any], str]:
        vm = self.vm_ref(content, vm_id)
        props = properties_of(content, vm, ["name", "snapshot"])
        info = props.get("snapshot")
        nodes = list(walk(info.rootSnapshotList)) if info is not None else []
        current = info.currentSnapshot._moId if info is not None and info.currentSnapshot else ""
        return vm, props.get("name", vm_id), nodes, current

    async def _named(self, vm_id: str, name: str) -> tuple[Any, str]:
        _vm, vm_name, nodes, _current = await self._call(self._tree, vm_id, about=self.vm_name(vm_id))
        found = [node.snapshot for node in nodes if node.name == name]
        if not found:
            known = ", ".join(node.name for node in nodes) or "none"
            raise NovaError(Code.VM_NOT_FOUND, f"snapshot {name!r} of {vm_name}", f"its snapshots: {known}")
        if len(found) > 1:
            raise NovaError(Code.INVALID_STATE, f"snapshot {name!r} of {vm_name}",
                            f"{len(found)} snapshots have that name; rename them in vSphere first")
        return found[0], vm_name

    async def create_snapshot(self, vm_id: str, name: str, description: str = "") -> None:
        """CreateSnapshot_Task with the guest's memory when it runs (a revert resumes it where
        it was, as vSphere's own client does by default). A name already used is refused: a
        retried request makes no second snapshot, and revert/delete by name stay exact."""
        self._refuse_if_read_only("snapshot")
        vm, vm_name, nodes, _current = await self._call(self._tree, vm_id, about=self.vm_name(vm_id))
        if any(node.name == name for node in nodes):
            raise NovaError(Code.INVALID_STATE, f"{vm_name} already has a snapshot named {name!r}",
                            "pick another name (or delete that snapshot first)")
        _vm, _name, state = await self.power_state(vm_id)
        await self.run_task(lambda _c: vm.CreateSnapshot_Task(
            name=name, description=description, memory=state == "poweredOn", quiesce=False),
            about=vm_name)

    async def revert_snapshot(self, vm_id: str, name: str) -> None:
        self._refuse_if_read_only("revert")
        snapshot, vm_name = await self._named(vm_id, name)
        await self.run_task(lambda _c: snapshot.RevertToSnapshot_Task(), about=vm_name)

    async def delete_snapshot(self, vm_id: str, name: str) -> None:
        """RemoveSnapshot_Task of that snapshot alone (its children stay, re-parented)."""
        self._refuse_if_read_only("snapshot delete")
        snapshot, vm_name = await self._named(vm_id, name)
        await self.run_task(lambda _c: snapshot.RemoveSnapshot_Task(removeChildren=False),
                            about=vm_name)
