"""Provisioning: VMs made from a template against vcsim, through the scheduler, the dispatcher
(audit rows in a SQLite store) and the vSphere backend's saga, as `novacron vm create` runs.

Rows (label, ours, baseline, verdict):
- N VMs at once (`create.run` starts every VM's saga together) against the same N one after
  another, on vcsim's default inventory (8 VMs), with CloneVM_Task answering after 1 s
  (`-method-delay`: vcsim otherwise clones at once, where a real vCenter takes seconds to
  minutes). The delay holds the calling thread, so at most the backend's 4 worker threads
  wait at once; on a real vCenter the call returns a task at once and its wait holds no
  thread (`run_task` polls from the loop), so there the limit is what vCenter runs at once;
- the same without the delay: what the console itself costs per VM (audit rows, the saga's
  calls), where nothing is gained by overlapping;
- one VM made in a 2,200-VM vCenter (`-dc 2 -cluster 10 -host 20 -vm 100`): each create reads
  every VM's name and extraConfig (request id, name clash, template by name), so its cost
  grows with the inventory.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from pyVmomi import vim

from console.actions.dispatcher import Dispatcher
from console.config import Context
from console.fleet.polling import Fleet
from console.fleet.sources import build_backends
from console.provision import create
from console.provision.create import CreateRequest, Planned
from console.store import Store
from tests.bench import Skip
from tests.integration import vcsim_fixture as vf

QUICK = os.environ.get("NOVACRON_BENCH_QUICK") == "1"
COUNT = 4 if QUICK else 8
CLONE_DELAY_MS = 1000
LARGE = ("-dc", "2", "-cluster", "10", "-host", "20", "-vm", "100")
TEMPLATE_VM = "DC0_H0_VM1"


def run() -> list[tuple[str, str, str, str]]:
    if not vf.VCSIM.exists():
        raise Skip(f"{vf.VCSIM} missing: `make setup test` builds it")
    rows = []
    with vf.running_vcsim("-method-delay", f"CloneVM_Task:{CLONE_DELAY_MS}") as sim:
        _prepare(sim, TEMPLATE_VM)
        one_by_one, together = asyncio.run(_small(sim))
        rows.append((f"{COUNT} VMs at once, clones taking {CLONE_DELAY_MS / 1000:g} s",
                     f"{together:.2f} s", f"{one_by_one:.2f} s one after another",
                     "faster: ok" if together < one_by_one / 2 else "SLOW"))
    with vf.running_vcsim() as sim:
        _prepare(sim, TEMPLATE_VM)
        one_by_one, together = asyncio.run(_small(sim))
        rows.append((f"{COUNT} VMs at once, instant clones (console cost)", f"{together:.2f} s",
                     f"{one_by_one:.2f} s one after another",
                     f"info ({one_by_one / COUNT * 1000:.0f} ms per VM)"))
    with vf.running_vcsim(*LARGE) as sim:
        name = _template_name(sim)
        _prepare(sim, name)
        seconds = asyncio.run(_large(sim, name))
        rows.append(("1 VM from a template in a 2,200-VM vCenter", f"{seconds:.2f} s", "",
                     "info (3 full VM scans per create)"))
    return rows


def _prepare(sim: vf.Vcsim, name: str) -> None:
    """Mark `name` as a template (what an admin does once)."""
    with vf.observer(sim) as si:
        moid = next(m for m, p in vf.all_of(si, vim.VirtualMachine, ["name"]).items()
                    if p["name"] == name)
        vm = vim.VirtualMachine(moid, si._stub)
        vf.wait_task(vm.PowerOffVM_Task())
        vm.MarkAsTemplate()


def _template_name(sim: vf.Vcsim) -> str:
    with vf.observer(sim) as si:
        return sorted(p["name"] for p in vf.all_of(si, vim.VirtualMachine, ["name"]).values())[0]


def _context(sim: vf.Vcsim, template_vm: str) -> Context:
    return Context.model_validate({
        "backends": [{"kind": "vsphere", "name": "vc", "host": sim.host,
                      "ca_file": str(sim.ca_file), "timeout_s": 120}],
        "templates": {"t": {"kind": "vsphere", "vcpus": 1, "memory": "64MiB",
                            "template_vm": template_vm}}})


async def _rig(sim: vf.Vcsim, template_vm: str, state: Path) -> tuple[Context, Fleet, Store, Dispatcher]:
    os.environ["VSPHERE_USER"], os.environ["VSPHERE_PASSWORD"] = sim.user, sim.password
    context = _context(sim, template_vm)
    fleet = Fleet("bench", build_backends(context, read_only=False), interval_s=3600, timeout_s=120)
    store = await Store.open(state / "audit.db")
    return context, fleet, store, Dispatcher(fleet.backends, audit=store, context="bench",
                                             read_only=False)


async def _plan(context: Context, fleet: Fleet, name: str, count: int) -> list[Planned]:
    kinds = {n: b.kind for n, b in fleet.backends.items()}
    return create.plan(CreateRequest("t", name, count=count), context, await fleet.poll_once(),
                       kinds)


async def _small(sim: vf.Vcsim) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        context, fleet, store, dispatcher = await _rig(sim, TEMPLATE_VM, Path(tmp))
        try:
            await _plan(context, fleet, "warm", 1)  # log in, make the views
            planned = await _plan(context, fleet, "seq", COUNT)
            started = time.perf_counter()
            for p in planned:
                (outcome,) = await create.run(dispatcher, [p], origin="bench")
                assert outcome.ok, outcome.error
            one_by_one = time.perf_counter() - started
            planned = await _plan(context, fleet, "par", COUNT)
            started = time.perf_counter()
            outcomes = await create.run(dispatcher, planned, origin="bench")
            together = time.perf_counter() - started
            assert all(o.ok for o in outcomes), [o.error for o in outcomes]
            return one_by_one, together
        finally:
            await fleet.stop()
            await store.close()


async def _large(sim: vf.Vcsim, template_vm: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        context, fleet, store, dispatcher = await _rig(sim, template_vm, Path(tmp))
        try:
            times = []
            for i in range(1 if QUICK else 3):
                planned = await _plan(context, fleet, f"big-{i}", 1)
                started = time.perf_counter()
                (outcome,) = await create.run(dispatcher, planned, origin="bench")
                times.append(time.perf_counter() - started)
                assert outcome.ok, outcome.error
            return statistics.median(times)
        finally:
            await fleet.stop()
            await store.close()
