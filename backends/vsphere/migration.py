"""vMotion: the `SupportsMigration` half of `VsphereBackend`.

`migrate_to` is RelocateVM_Task to the target host (and to its cluster's root resource pool
when the host is in another cluster), followed to its end. Progress is the task's
`info.progress` (a percentage) when vCenter reports one; cancel is CancelTask when vCenter says
the task is cancelable. Both are said plainly when the server does neither (vcsim finishes the
task at once and does not implement CancelTask). vMotion has no post-copy mode.

A vSphere backend covers every host of its vCenter, so `presence` answers for the VM wherever
it runs: `migrating_out` is "a relocate task of this VM is running".
"""

from __future__ import annotations

import time
from typing import Any

from pyVmomi import vim, vmodl

from backends.base import DomainPresence
from console.errors import Code, NovaError
from console.models import Migration, MigrationPhase, VMState

from .actions import TaskRunner
from .errors import translate
from .inventory import POWER_STATES, Inventory, moid, properties_of

MOVE_TASKS = frozenset({"VirtualMachine.relocate", "VirtualMachine.migrate", "Drm.ExecuteVMotionLRO"})
"""Task description ids of a vMotion (ours, or one started in the vSphere client or by DRS)."""
LIVE_STATES = frozenset({"queued", "running"})


class MigrationMixin(TaskRunner):
    """Mixed into `VsphereBackend`; relies on its `_last` inventory to find hosts by name."""

    _last: Inventory
    endpoint: Any

    def __init__(self) -> None:
        self._moves: dict[str, Any] = {}
        """VM id → the relocate task this console started (until it ends)."""

    async def migrate_to(self, vm_id: str, *, target: str, target_uri: str, **options: Any) -> None:
        """RelocateVM_Task to `target` (a host name; `target_uri` may carry its moid as
        `Host.uri` does). Options that are libvirt's (bandwidth, post-copy, storage copy) have
        no vMotion equivalent and are ignored; `timeout_s` bounds the wait."""
        self._refuse_if_read_only("migrate")
        name = self.vm_name(vm_id)
        host_moid, pool_moid = self._target(target, target_uri)
        spec_args = await self._call(self._relocate_spec, vm_id, host_moid, pool_moid, about=name)
        timeout_s = float(options.get("timeout_s") or 6 * 3600.0)
        try:
            await self.run_task(self._relocate, vm_id, spec_args, about=name, timeout_s=timeout_s,
                                on_task=lambda task: self._moves.__setitem__(vm_id, task))
        finally:
            self._moves.pop(vm_id, None)

    def _target(self, target: str, target_uri: str) -> tuple[str, str]:
        """(host moid, its cluster's resource pool moid) of the target host."""
        place = self._last.host_places.get(target)
        if place is not None:
            return place.moid, place.resource_pool
        prefix = f"vsphere://{self.endpoint.label}/host/"
        if target_uri.startswith(prefix):
            return target_uri[len(prefix):], ""
        raise NovaError(Code.VM_NOT_FOUND, f"target host {target!r}",
                        f"vSphere at {self.endpoint.label} lists no host of that name")

    def _relocate_spec(self, content: Any, vm_id: str, host_moid: str, pool_moid: str) -> dict[str, Any]:
        vm = self.vm_ref(content, vm_id)
        props = properties_of(content, vm, ["name", "runtime.host", "resourcePool"])
        if moid(props.get("runtime.host")) == host_moid:
            raise NovaError(Code.INVALID_STATE, props.get("name", vm_id), "it already runs on that host")
        stub = vm._stub
        spec: dict[str, Any] = {"host": vim.HostSystem(host_moid, stub)}
        current = next((p for p in self._last.host_places.values()
                        if p.moid == moid(props.get("runtime.host"))), None)
        target = next((p for p in self._last.host_places.values() if p.moid == host_moid), None)
        if pool_moid and (current is None or target is None
                          or current.compute_resource != target.compute_resource):
            spec["pool"] = vim.ResourcePool(pool_moid, stub)  # another cluster: its root pool
        return spec

    def _relocate(self, content: Any, vm_id: str, spec_args: dict[str, Any]) -> Any:
        vm = self.vm_ref(content, vm_id)
        return vm.RelocateVM_Task(spec=vim.vm.RelocateSpec(**spec_args),
                                  priority=vim.VirtualMachine.MovePriority.highPriority)

    # -- following ----------------------------------------------------------------------------

    def _running_move(self, content: Any, vm_id: str) -> tuple[Any, dict[str, Any], dict[str, Any]] | None:
        """(task, its info, the VM's properties) of the VM's running vMotion, or None."""
        vm = self.vm_ref(content, vm_id)
        props = properties_of(content, vm, ["name", "runtime.host", "runtime.powerState",
                                            "recentTask"])
        tasks = list(props.get("recentTask") or ())
        ours = self._moves.get(vm_id)
        if ours is not None and all(moid(t) != moid(ours) for t in tasks):
            tasks.append(ours)
        for task in tasks:
            info = properties_of(content, task, ["info.state", "info.descriptionId", "info.progress",
                                                 "info.cancelable", "info.startTime", "info.key"])
            if (info.get("info.state") in LIVE_STATES
                    and (info.get("info.descriptionId") in MOVE_TASKS or task is ours)):
                return task, info, props
        return None

    async def migration_progress(self, vm_id: str) -> Migration | None:
        """The running vMotion of the VM, its percentage when vCenter reports one; None when
        none runs (vcsim: its tasks end before anyone can look)."""
        found = await self._call(self._running_move, vm_id, about=self.vm_name(vm_id))
        if found is None:
            return None
        task, info, props = found
        return progress_of(vm_id, moid(task), info, props.get("name", vm_id),
                           self._host_name(moid(props.get("runtime.host"))))

    def _host_name(self, host_moid: str) -> str:
        return next((p.name for p in self._last.host_places.values() if p.moid == host_moid), host_moid)

    async def cancel_migration(self, vm_id: str) -> None:
        """CancelTask on the running vMotion, when vCenter says it can be cancelled."""
        self._refuse_if_read_only("migrate-cancel")
        name = self.vm_name(vm_id)
        found = await self._call(self._running_move, vm_id, about=name)
        if found is None:
            raise NovaError(Code.INVALID_STATE, name, "no vMotion of it is running")
        task, info, _props = found
        if (refusal := cancel_refusal(name, info)) is not None:
            raise refusal
        await self._call(self._cancel, task, name, about=name)

    @staticmethod
    def _cancel(_content: Any, task: Any, name: str) -> None:
        try:
            task.CancelTask()
        except vmodl.fault.MethodNotFound as fault:
            raise translate(fault, f"cancel the vMotion of {name}",
                            "this vSphere server does not implement CancelTask") from fault

    async def start_post_copy(self, vm_id: str) -> None:
        raise NovaError(Code.NOT_SUPPORTED, f"post-copy for {self.vm_name(vm_id)}",
                        "vMotion has no post-copy mode (vSphere switches over on its own)")

    async def presence(self, vm_id: str) -> DomainPresence:
        """Whether vCenter lists the VM, whether it runs, and whether a vMotion of it runs."""
        try:
            found = await self._call(self._presence, vm_id, about=self.vm_name(vm_id))
        except NovaError as err:
            if err.kind is Code.VM_NOT_FOUND:
                return DomainPresence(present=False)
            raise
        return found

    def _presence(self, content: Any, vm_id: str) -> DomainPresence:
        move = self._running_move(content, vm_id)
        vm = self.vm_ref(content, vm_id)
        power = properties_of(content, vm, ["runtime.powerState"]).get("runtime.powerState", "")
        state = POWER_STATES.get(power, VMState.UNKNOWN)
        return DomainPresence(present=True, active=state is VMState.RUNNING, state=state,
                              migrating_out=move is not None)


def progress_of(vm_id: str, task_id: str, info: dict[str, Any], vm_name: str, source: str,
                now: float | None = None) -> Migration:
    """A running relocate task as the board's Migration: `info.progress` is a percentage,
    so data_total is 100 when vCenter reports one and 0 (unknown) when it does not."""
    raw = info.get("info.progress")
    progress = int(raw) if raw is not None else None
    started = info.get("info.startTime")
    started_at = started.timestamp() if started is not None else 0.0
    now = time.time() if now is None else now
    return Migration(
        id=task_id, vm_id=vm_id, vm_name=vm_name, source=source, target="",
        phase=MigrationPhase.RUNNING if info.get("info.state") == "running" else MigrationPhase.QUEUED,
        data_total=100 if progress is not None else 0, data_processed=progress or 0,
        data_remaining=100 - progress if progress is not None else 0,
        elapsed_s=max(0.0, now - started_at) if started_at else 0.0, started_at=started_at)


def cancel_refusal(vm_name: str, info: dict[str, Any]) -> NovaError | None:
    """Why a running vMotion cannot be cancelled, or None when vCenter says it can."""
    if info.get("info.cancelable"):
        return None
    return NovaError(Code.NOT_SUPPORTED, f"cancel the vMotion of {vm_name}",
                     "vCenter reports this task as not cancelable (it may be past the point of "
                     "no return); wait for it to end")
