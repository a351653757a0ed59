"""Usage from the metrics sources, filled into hosts and VMs whose own source reports none.

An inventory source need not measure load: libvirt's test driver (the demo) reports none, a
cloud API reports it elsewhere. When the context also has a metrics source (Prometheus), its
`samples()` say how busy each host and VM is; this puts those figures where the hosts
screen's CPU/memory-used columns and the inventory's sparklines read them. A figure the
inventory source gave itself always wins. Pure functions over one snapshot.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from console.models import VM, FleetSnapshot, Host, MetricSample

HOST_CPU = "host_cpu_used"
"""Samples named as the Prometheus kind names them: CPU cores busy per host…"""
HOST_MEMORY = "host_memory_used"
"""…memory bytes in use per host…"""
VM_CPU = "vm_cpu_used"
"""…and CPU cores busy per VM (by UUID, or by `vm:<backend>/<id>` as clouds name targets)."""


def _index(samples: Iterable[MetricSample]) -> dict[tuple[str, str], float]:
    return {(s.metric, s.target): s.value for s in samples}


def _host(host: Host, found: dict[tuple[str, str], float]) -> Host:
    changes: dict[str, float | int] = {}
    cores = found.get((HOST_CPU, host.name))
    if host.cpu_usage is None and cores is not None and host.cpus:
        changes["cpu_usage"] = max(0.0, min(1.0, cores / host.cpus))
    used = found.get((HOST_MEMORY, host.name))
    if host.free_memory_bytes is None and used is not None and host.memory_bytes:
        changes["free_memory_bytes"] = max(0, host.memory_bytes - int(used))
    return dataclasses.replace(host, **changes) if changes else host  # type: ignore[arg-type]


def _vm(vm: VM, found: dict[tuple[str, str], float]) -> VM:
    if vm.cpu_used_cores is not None or vm.cpu_time_ns:
        return vm  # the inventory source measures it (a rate, or a counter the history rates)
    cores = found.get((VM_CPU, vm.id), found.get((VM_CPU, f"vm:{vm.key}")))
    return vm if cores is None else dataclasses.replace(vm, cpu_used_cores=max(0.0, cores))


def with_usage(snapshot: FleetSnapshot, samples: Iterable[MetricSample]) -> FleetSnapshot:
    """`snapshot` with the usage `samples` report filled in where its sources gave none (the
    same object when there is nothing to add). Stale rows are left as they are: a figure of
    now on a row of then would mislead."""
    found = _index(samples)
    if not found:
        return snapshot
    hosts = tuple(h if h.stale else _host(h, found) for h in snapshot.hosts)
    vms = tuple(v if v.stale else _vm(v, found) for v in snapshot.vms)
    return dataclasses.replace(snapshot, hosts=hosts, vms=vms)
