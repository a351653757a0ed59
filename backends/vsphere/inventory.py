"""The whole inventory in one PropertyCollector retrieval, and how it becomes Hosts and VMs.

One `RetrievePropertiesEx` through a ContainerView returns every VM, host, cluster, folder and
datacenter with only the properties we show (paged with `ContinueRetrievePropertiesEx` when the
server pages), instead of one round trip per attribute: 2,200 VMs cost one call, not 20,000.
Folders and datacenters come along (a few objects) so each host and VM can be placed in its
cluster and datacenter by walking `parent` locally.

`build` is pure (plain values in, models out): it is what the unit tests exercise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyVmomi import vim, vmodl

from console.models import VM, Host, HostState, VMState
from console.sanitize import clean, clean_all

PC = vmodl.query.PropertyCollector
PAGE_SIZE = 1000
"""Objects per page asked of the server (vCenter may send fewer; vcsim sends all at once)."""
MIB = 2**20

VM_PROPERTIES = (
    "name", "runtime.powerState", "runtime.connectionState", "runtime.host",
    "config.instanceUuid", "config.template", "config.hardware.numCPU",
    "config.hardware.memoryMB", "guest.net", "guest.ipAddress", "customValue",
    "summary.quickStats.overallCpuUsage",
)
HOST_PROPERTIES = (
    "name", "parent", "runtime.connectionState", "runtime.inMaintenanceMode",
    "summary.hardware.memorySize", "summary.hardware.cpuModel", "summary.hardware.cpuMhz",
    "summary.hardware.numCpuThreads", "summary.quickStats.overallCpuUsage",
    "summary.quickStats.overallMemoryUsage", "summary.config.product.fullName",
)
GROUP_PROPERTIES = {
    vim.ComputeResource: ("name", "parent", "resourcePool"),
    vim.Folder: ("name", "parent"),
    vim.Datacenter: ("name", "parent"),
}
VIEW_TYPES = [vim.VirtualMachine, vim.HostSystem, vim.ComputeResource, vim.Folder, vim.Datacenter]

POWER_STATES = {"poweredOn": VMState.RUNNING, "poweredOff": VMState.STOPPED,
                "suspended": VMState.SUSPENDED}


def filter_spec(views: Sequence[Any], fields_manager: Any = None, extra: Sequence[Any] = ()) -> Any:
    """What one retrieval asks for: every object in `views`, the `extra` objects themselves
    (the datacenters a filtered source is scoped to), plus custom field names."""
    traverse = PC.TraversalSpec(name="view", path="view", skip=False, type=vim.view.ContainerView)
    objects = [PC.ObjectSpec(obj=view, skip=True, selectSet=[traverse]) for view in views]
    objects += [PC.ObjectSpec(obj=obj, skip=False) for obj in extra]
    props = [PC.PropertySpec(type=vim.VirtualMachine, pathSet=list(VM_PROPERTIES)),
             PC.PropertySpec(type=vim.HostSystem, pathSet=list(HOST_PROPERTIES))]
    props += [PC.PropertySpec(type=t, pathSet=list(p)) for t, p in GROUP_PROPERTIES.items()]
    if fields_manager is not None:
        objects.append(PC.ObjectSpec(obj=fields_manager, skip=False))
        props.append(PC.PropertySpec(type=vim.CustomFieldsManager, pathSet=["field"]))
    return PC.FilterSpec(objectSet=objects, propSet=props)


def retrieve(collector: Any, spec: Any, page_size: int = PAGE_SIZE) -> tuple[list[Any], int]:
    """Every object the spec selects, following the server's paging; (objects, calls made)."""
    result = collector.RetrievePropertiesEx([spec], PC.RetrieveOptions(maxObjects=page_size))
    calls = 1
    objects: list[Any] = []
    while result is not None:
        objects.extend(result.objects or ())
        if not result.token:
            break
        result = collector.ContinueRetrievePropertiesEx(result.token)
        calls += 1
    return objects, calls


def properties_of(content: Any, ref: Any, paths: Sequence[str]) -> dict[str, Any]:
    """Some properties of one object, through the PropertyCollector (an unset property is
    simply absent; reading it by attribute would cost a call each, and vcsim drops those).
    Raises the server's fault (ManagedObjectNotFound) when the object is gone."""
    spec = PC.FilterSpec(objectSet=[PC.ObjectSpec(obj=ref, skip=False)],
                         propSet=[PC.PropertySpec(type=type(ref), pathSet=list(paths))])
    result = content.propertyCollector.RetrievePropertiesEx([spec], PC.RetrieveOptions())
    if result is None or not result.objects:
        raise vmodl.fault.ManagedObjectNotFound(obj=ref, msg=f"{moid(ref)} not found")
    found = result.objects[0]
    for missing in found.missingSet or ():
        if isinstance(missing.fault, vmodl.fault.ManagedObjectNotFound):
            raise missing.fault
    return {p.name: p.val for p in found.propSet or ()}


def as_records(objects: Iterable[Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(type name, moid, {property: value}) for each object of a retrieval."""
    return [(type(o.obj).__name__.rsplit(".", 1)[-1], o.obj._moId,
             {p.name: p.val for p in o.propSet or ()}) for o in objects]


def moid(ref: Any) -> str:
    return getattr(ref, "_moId", "") if ref is not None else ""


@dataclass(frozen=True, slots=True)
class HostPlace:
    """What acting on a host needs: its moid and the resource pool of its cluster."""

    moid: str
    name: str
    compute_resource: str
    resource_pool: str
    cpu_mhz: int


@dataclass(slots=True)
class Inventory:
    """One retrieval, shaped: the models, and the indexes actions look VMs and hosts up in."""

    hosts: list[Host] = field(default_factory=list)
    vms: list[VM] = field(default_factory=list)
    vm_moids: dict[str, str] = field(default_factory=dict)
    """VM id (instance UUID) → moid."""
    host_places: dict[str, HostPlace] = field(default_factory=dict)
    """Host name → where it is."""
    calls: int = 0


def host_uri(label: str, host_moid: str) -> str:
    """`Host.uri`: where the host lives and its moid (what a vMotion to it needs)."""
    return f"vsphere://{label}/host/{host_moid}"


def build(records: Sequence[tuple[str, str, dict[str, Any]]], *, backend: str, label: str) -> Inventory:
    """Hosts and VMs from the records of one retrieval (pure)."""
    groups = {m: (kind, props) for kind, m, props in records
              if kind in ("ComputeResource", "ClusterComputeResource", "Folder", "Datacenter")}
    field_names = {f.key: f.name for kind, _m, props in records if kind == "CustomFieldsManager"
                   for f in props.get("field") or ()}
    inventory = Inventory()
    host_names: dict[str, str] = {}
    host_mhz: dict[str, int] = {}
    host_groups: dict[str, tuple[str, str]] = {}
    for kind, m, props in records:
        if kind != "HostSystem":
            continue
        host, place, group = _host(m, props, groups, backend=backend, label=label)
        inventory.hosts.append(host)
        inventory.host_places[host.name] = place
        host_names[m], host_mhz[m], host_groups[m] = host.name, place.cpu_mhz, group
    for kind, m, props in records:
        if kind != "VirtualMachine" or props.get("config.template"):
            continue
        vm = _vm(m, props, host_names, host_mhz, host_groups, field_names, backend=backend)
        inventory.vms.append(vm)
        inventory.vm_moids[vm.id] = m
    return inventory


def _ancestors(start: str, groups: Mapping[str, tuple[str, dict[str, Any]]]) -> tuple[str, str]:
    """(cluster name, datacenter name) above a host's parent, walking `parent` locally."""
    cluster = datacenter = ""
    current, seen = start, set()
    while current in groups and current not in seen:
        seen.add(current)
        kind, props = groups[current]
        if kind == "ClusterComputeResource" and not cluster:
            cluster = clean(props.get("name", ""))
        if kind == "Datacenter":
            datacenter = clean(props.get("name", ""))
            break
        current = moid(props.get("parent"))
    return cluster, datacenter


def _host(m: str, props: dict[str, Any], groups: Mapping[str, tuple[str, dict[str, Any]]], *,
          backend: str, label: str) -> tuple[Host, HostPlace, tuple[str, str]]:
    parent = moid(props.get("parent"))
    cluster, datacenter = _ancestors(parent, groups)
    pool = moid(groups.get(parent, ("", {}))[1].get("resourcePool"))
    memory = int(props.get("summary.hardware.memorySize") or 0)
    used_mb = props.get("summary.quickStats.overallMemoryUsage")
    mhz = int(props.get("summary.hardware.cpuMhz") or 0)
    threads = int(props.get("summary.hardware.numCpuThreads") or 0)
    cpu_used = props.get("summary.quickStats.overallCpuUsage")
    connection = props.get("runtime.connectionState", "connected")
    maintenance = bool(props.get("runtime.inMaintenanceMode"))
    product = clean(props.get("summary.config.product.fullName") or "VMware ESXi")
    name = clean(props.get("name") or m)
    host = Host(
        id=m, name=name, backend=backend,
        state=HostState.UP if connection == "connected" else HostState.DOWN,
        hypervisor=product + (" (maintenance mode)" if maintenance else ""),
        arch="x86_64", cpu_model=clean(props.get("summary.hardware.cpuModel") or ""),
        cpus=threads, memory_bytes=memory,
        free_memory_bytes=max(0, memory - int(used_mb) * MIB) if used_mb is not None and memory else None,
        cpu_usage=(min(1.0, int(cpu_used) / (mhz * threads))
                   if cpu_used is not None and mhz and threads else None),
        uri=host_uri(label, m), cluster=cluster, datacenter=datacenter,
        error="" if connection == "connected" else f"vCenter reports it {connection}",
    )
    return host, HostPlace(m, name, parent, pool, mhz), (cluster, datacenter)


def _vm(m: str, props: dict[str, Any], host_names: Mapping[str, str], host_mhz: Mapping[str, int],
        host_groups: Mapping[str, tuple[str, str]], field_names: Mapping[int, str], *,
        backend: str) -> VM:
    host = moid(props.get("runtime.host"))
    state = POWER_STATES.get(props.get("runtime.powerState", ""), VMState.UNKNOWN)
    if props.get("runtime.connectionState", "connected") != "connected":
        state = VMState.UNKNOWN  # orphaned, inaccessible: vCenter does not know its power state
    cluster, datacenter = host_groups.get(host, ("", ""))
    tags = [f"{field_names.get(v.key, v.key)}={v.value}" for v in props.get("customValue") or ()
            if getattr(v, "value", "")]
    tags += [f"cluster={cluster}"] * bool(cluster) + [f"dc={datacenter}"] * bool(datacenter)
    cpu_mhz = props.get("summary.quickStats.overallCpuUsage")
    mhz = host_mhz.get(host, 0)
    return VM(
        id=props.get("config.instanceUuid") or m, name=clean(props.get("name") or m),
        state=state, host=host_names.get(host, host), backend=backend,
        vcpus=int(props.get("config.hardware.numCPU") or 0),
        memory_bytes=int(props.get("config.hardware.memoryMB") or 0) * MIB,
        addresses=clean_all(_addresses(props)), tags=clean_all(tags),
        cpu_used_cores=(int(cpu_mhz) / mhz if cpu_mhz is not None and mhz and state is VMState.RUNNING
                        else None),
    )


def _addresses(props: dict[str, Any]) -> list[str]:
    """The guest's IPs as VMware Tools reports them, link-local ones left out."""
    found: list[str] = []
    for nic in props.get("guest.net") or ():
        for ip in getattr(nic, "ipAddress", None) or ():
            if ip not in found and not ip.lower().startswith("fe80:"):
                found.append(ip)
    primary = props.get("guest.ipAddress")
    if primary and primary not in found:
        found.insert(0, primary)
    return found
