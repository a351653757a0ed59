"""Making a VM on vSphere by cloning a template: the `SupportsCreate` half of `VsphereBackend`.

A saga of steps, each reported to the console (`backends.base.report_step`, which the audit
records): look for the request id → check the name is free → find the template and where the
clone goes → clone (CloneVM_Task, powered off) → make sure it is on the chosen host, of the
asked size, with its annotation (RelocateVM_Task, ReconfigVM_Task: only when the clone
differs, as on vcsim, which ignores the clone spec's host, size and annotation) → tags (custom
attributes, what the inventory shows as tags) → power on. A failure after the clone destroys
it (powered off first): nothing half-made stays.

Idempotency: the request id is written into the clone's `extraConfig` (`novacron.request_id`)
by the clone itself, so a VM exists with it or not at all; the first step looks for a VM
carrying it and returns that VM for a repeated request. The annotation says who made it.

vCenter only refuses a clashing name within one folder; the console resolves VMs by name
across the source, so the name must be free in the whole source.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pyVmomi import vim, vmodl

from backends.base import NewVM, Saga, report_step
from console.errors import Code, NovaError
from console.models import VM

from .actions import TaskRunner
from .inventory import PC, Inventory, moid, properties_of, retrieve

REQUEST_KEY = "novacron.request_id"
"""The `extraConfig` key holding the request id that made the VM."""
MIB = 2**20


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a clone goes, as references (resolved on a worker thread)."""

    template: Any
    template_name: str
    folder: Any
    pool: Any
    host: Any
    datastore: Any
    host_name: str = ""

    def describe(self) -> str:
        where = [f"host {self.host_name}"] if self.host is not None else []
        return ", ".join([f"from {self.template_name}", *where])


def annotation(spec: NewVM, place: Placement) -> str:
    """The VM's notes in the vSphere client: who made it, from what, for which request."""
    return (f"Made by NovaCron from {place.template_name}"
            + (f" (request {spec.request_id})" if spec.request_id else ""))


def tag_fields(tags: Sequence[str]) -> list[tuple[str, str]]:
    """Tags as custom attributes: `role=pg` → (role, pg); a bare word → (word, "true"), since
    the inventory lists attributes as `name=value` and leaves empty values out."""
    fields = []
    for tag in tags:
        key, sep, value = tag.partition("=")
        if key.strip():
            fields.append((key.strip(), value.strip() if sep else "true"))
    return fields


class CreateMixin(TaskRunner):
    """Mixed into `VsphereBackend`; relies on its `_scope`, `_read_inventory`, `_last`."""

    _last: Inventory
    _views: Any
    _scope: Callable[[Any], tuple[list[Any], list[Any]]]
    _read_inventory: Callable[[Any], Inventory]
    session: Any
    endpoint: Any

    async def create_vm(self, spec: NewVM) -> VM:
        self._refuse_if_read_only("create")
        if spec.request_id:
            found = await self._call(self._made_by, spec.request_id, about=spec.name)
            if found is not None:
                await report_step("request", "ok", f"{spec.request_id}: already made as {found[1]}")
                return await self._listed(found[0], spec.name)
        template = dict(spec.template)
        if not self._last.host_places:  # the scheduler's host is looked up by name
            await self._call(self._read_inventory, about=self.name)
        async with Saga() as saga:
            await saga.step("name", spec.name,
                            lambda: self._call(self._name_free, spec.name, about=spec.name))
            place = await saga.step(
                "placement", f"{template.get('template_vm')} on {spec.host or 'any host'}",
                lambda: self._call(self._placement, template, spec.host, about=spec.name))
            clone = await saga.step(
                "clone", f"{place.describe()} to {spec.name}",
                lambda: self.run_task(self._clone, spec, place, about=spec.name),
                undo=lambda vm: self._destroy(vm, spec.name))
            if place.host is not None:
                await saga.step("host", place.host_name,
                                lambda: self._on_host(clone, place, spec.name))
            await saga.step("config", f"{spec.vcpus} vCPU, {spec.memory_bytes // MIB} MiB",
                            lambda: self._config(clone, spec, annotation(spec, place)))
            if spec.disk_bytes:  # said, not silently dropped: the clone keeps its disks
                await report_step("disk", "ok", f"{spec.disk_bytes / 2**30:g} GiB asked, not "
                                  "applied: the clone keeps the template's disks (growing "
                                  "them here is not built for vSphere; grow them in vCenter)")
            if fields := tag_fields(spec.tags):
                await saga.step("tags", ", ".join(f"{k}={v}" for k, v in fields),
                                lambda: self._call(self._set_tags, clone, fields, about=spec.name))
            if template.get("power_on", True):
                await saga.step("power on", spec.name,
                                lambda: self.run_task(lambda _c: clone.PowerOnVM_Task(),
                                                      about=spec.name))
        return await self._listed(moid(clone), spec.name)

    async def _listed(self, vm_moid: str, name: str) -> VM:
        """The new VM as the inventory lists it, read now (not the last poll's)."""
        inventory: Inventory = await self._call(self._read_inventory, about=name)
        for vm in inventory.vms:
            if inventory.vm_moids.get(vm.id) == vm_moid:
                return vm
        raise NovaError(Code.VM_NOT_FOUND, name, f"made ({vm_moid}), but vCenter no longer lists it")

    async def _on_host(self, vm: Any, place: Placement, name: str) -> None:
        """On the scheduler's host: vCenter puts the clone there (the clone spec names it),
        a server that does not (vcsim keeps the template's host) gets a cold relocate."""
        props = await self._call(properties_of, vm, ["runtime.host"], about=name)
        if moid(props.get("runtime.host")) == moid(place.host):
            return
        await self.run_task(lambda _c: vm.RelocateVM_Task(
            vim.vm.RelocateSpec(host=place.host, pool=place.pool)), about=name)

    async def _config(self, vm: Any, spec: NewVM, annotation: str) -> None:
        """The asked size and the annotation: vCenter applies the clone spec's, a server that
        does not (vcsim) gets a reconfigure; a clone already right costs nothing more."""
        props = await self._call(properties_of, vm, ["config.hardware.numCPU", "config.annotation",
                                                     "config.hardware.memoryMB"], about=spec.name)
        want = {"config.hardware.numCPU": spec.vcpus,
                "config.hardware.memoryMB": spec.memory_bytes // MIB,
                "config.annotation": annotation}
        if all(props.get(k, "") == v for k, v in want.items()):
            return
        await self.run_task(lambda _c: vm.ReconfigVM_Task(vim.vm.ConfigSpec(
            numCPUs=spec.vcpus, memoryMB=spec.memory_bytes // MIB, annotation=annotation)),
            about=spec.name)

    async def _destroy(self, vm: Any, name: str) -> None:
        """Undo a clone: power it off if it runs, then Destroy_Task (its files go too)."""
        props = await self._call(properties_of, vm, ["runtime.powerState"], about=name)
        if props.get("runtime.powerState") != "poweredOff":
            await self.run_task(lambda _c: vm.PowerOffVM_Task(), about=name)
        await self.run_task(lambda _c: vm.Destroy_Task(), about=name)

    # -- on worker threads ------------------------------------------------------------------

    def _every_vm(self, content: Any, paths: Sequence[str]) -> list[tuple[Any, dict[str, Any]]]:
        """(reference, properties) of every VM and template this source covers."""
        try:
            views, _extra = self._scope(content)
            return self._retrieve_vms(content, views, paths)
        except vmodl.fault.ManagedObjectNotFound:  # views of a session the server ended
            self._views = None
            views, _extra = self._scope(content)
            return self._retrieve_vms(content, views, paths)

    @staticmethod
    def _retrieve_vms(content: Any, views: Sequence[Any],
                      paths: Sequence[str]) -> list[tuple[Any, dict[str, Any]]]:
        traverse = PC.TraversalSpec(name="view", path="view", skip=False,
                                    type=vim.view.ContainerView)
        spec = PC.FilterSpec(
            objectSet=[PC.ObjectSpec(obj=v, skip=True, selectSet=[traverse]) for v in views],
            propSet=[PC.PropertySpec(type=vim.VirtualMachine, pathSet=list(paths))])
        objects, _calls = retrieve(content.propertyCollector, spec)
        return [(o.obj, {p.name: p.val for p in o.propSet or ()}) for o in objects]

    def _made_by(self, content: Any, request_id: str) -> tuple[str, str] | None:
        """(moid, name) of the VM this request already made, if any."""
        for ref, props in self._every_vm(content, ["name", "config.extraConfig"]):
            for option in props.get("config.extraConfig") or ():
                if option.key == REQUEST_KEY and str(option.value) == request_id:
                    return moid(ref), str(props.get("name", ""))
        return None

    def _name_free(self, content: Any, name: str) -> None:
        if any(props.get("name") == name for _ref, props in self._every_vm(content, ["name"])):
            raise NovaError(Code.NAME_TAKEN, f"{name} on {self.name}",
                            "a VM or template of this source has that name; choose another")

    def _placement(self, content: Any, template: dict[str, Any], host_name: str) -> Placement:
        source = self._template_vm(content, str(template.get("template_vm", "")))
        props = properties_of(content, source, ["name", "parent", "datastore"])
        folder = self._find(content, template.get("folder"), vim.Folder, "folder") or props["parent"]
        place = self._last.host_places.get(host_name) if host_name else None
        if host_name and place is None:
            raise NovaError(Code.VM_NOT_FOUND, f"host {host_name!r}",
                            f"vSphere at {self.endpoint.label} lists no host of that name")
        pool = self._find(content, template.get("resource_pool"),
                          (vim.ResourcePool, vim.ComputeResource), "resource pool")
        if isinstance(pool, vim.ComputeResource):
            pool = properties_of(content, pool, ["resourcePool"]).get("resourcePool")
        stub = self.session.stub
        if pool is None and place is not None:
            pool = vim.ResourcePool(place.resource_pool, stub)
        if pool is None:
            raise NovaError(Code.CONFIG_INVALID, f"template {props.get('name')}",
                            "no host chosen and no resource_pool in the template: set one")
        host = vim.HostSystem(place.moid, stub) if place is not None else None
        datastore = self._datastore(content, template.get("datastore"),
                                    host if host is not None else source)
        return Placement(source, str(props.get("name", "")), folder, pool, host, datastore,
                         host_name=host_name)

    def _template_vm(self, content: Any, wanted: str) -> Any:
        if "/" in wanted:
            found = content.searchIndex.FindByInventoryPath(wanted)
            if isinstance(found, vim.VirtualMachine):
                return found
        else:
            named = [ref for ref, props in self._every_vm(content, ["name"])
                     if props.get("name") == wanted]
            if len(named) == 1:
                return named[0]
            if named:
                raise NovaError(Code.CONFIG_INVALID, f"template_vm {wanted!r}",
                                f"{len(named)} VMs have that name: give its inventory path "
                                "(e.g. DC0/vm/folder/name)")
        raise NovaError(Code.CONFIG_INVALID, f"template_vm {wanted!r}",
                        f"vSphere at {self.endpoint.label} has no VM or template by that name "
                        "or inventory path")

    def _find(self, content: Any, path: Any, kinds: Any, what: str) -> Any:
        if not path:
            return None
        found = content.searchIndex.FindByInventoryPath(str(path))
        if not isinstance(found, kinds):
            raise NovaError(Code.CONFIG_INVALID, f"{what} {path!r}",
                            f"vSphere at {self.endpoint.label} has no {what} at that inventory "
                            "path (e.g. DC0/vm/web for a folder, DC0/host/C0/Resources)")
        return found

    @staticmethod
    def _datastore(content: Any, name: Any, seen_by: Any) -> Any:
        """The datastore `name` among those the chosen host (or else the template) sees."""
        if not name:
            return None
        for ds in properties_of(content, seen_by, ["datastore"]).get("datastore") or ():
            if properties_of(content, ds, ["name"]).get("name") == name:
                return ds
        raise NovaError(Code.CONFIG_INVALID, f"datastore {name!r}",
                        "the chosen host does not see a datastore of that name")

    def _clone(self, content: Any, spec: NewVM, place: Placement) -> Any:
        config = vim.vm.ConfigSpec(
            numCPUs=spec.vcpus, memoryMB=spec.memory_bytes // MIB,
            annotation=annotation(spec, place),
            extraConfig=[vim.option.OptionValue(key=REQUEST_KEY, value=spec.request_id)]
            if spec.request_id else [])
        location = vim.vm.RelocateSpec(pool=place.pool, host=place.host, datastore=place.datastore)
        return place.template.CloneVM_Task(folder=place.folder, name=spec.name, spec=vim.vm.CloneSpec(
            location=location, config=config, powerOn=False, template=False))

    def _set_tags(self, content: Any, vm: Any, fields: list[tuple[str, str]]) -> None:
        manager = content.customFieldsManager
        for key, value in fields:
            manager.SetField(entity=vm, key=self._field_key(content, key), value=value)

    @staticmethod
    def _field_key(content: Any, name: str) -> int:
        """The custom attribute `name` for VMs (or for every type), made when missing."""
        manager = content.customFieldsManager

        def existing() -> int | None:
            for field in properties_of(content, manager, ["field"]).get("field") or ():
                if field.name == name and field.managedObjectType in (None, vim.VirtualMachine):
                    return int(field.key)
            return None

        key = existing()
        if key is not None:
            return key
        try:
            return int(manager.AddCustomFieldDef(name=name, moType=vim.VirtualMachine).key)
        except vim.fault.DuplicateName:  # made meanwhile (another console)
            key = existing()
            if key is None:
                raise
            return key
