"""The console over a vSphere source, as an operator configures it: a config file naming vcsim
(credentials from the environment, certificate checked against a CA file), the inventory and
hosts screens listing what vCenter lists, and a change made in another client showing up
through the update stream (the fleet polls only once an hour here)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyVmomi import vim

from console.app import NovaApp
from console.config import load_settings, resolve_context
from console.fleet.polling import Fleet
from console.fleet.sources import build_backends
from console.models import VMState
from screens.hosts import HostsScreen
from screens.inventory import InventoryScreen
from tests import wait_for
from tests.integration import vcsim_fixture as vf

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sim() -> Iterator[vf.Vcsim]:
    with vf.running_vcsim() as running:
        yield running


def write_config(sim: vf.Vcsim, path: Path) -> Path:
    path.write_text(f"""
[contexts.vc]
poll_interval_s = 3600

[[contexts.vc.backends]]
kind = "vsphere"
name = "vc-sim"
host = "127.0.0.1:{sim.port}"
ca_file = "{sim.ca_file}"
""", encoding="utf-8")
    return path


async def test_inventory_and_hosts_screens_list_what_vcenter_lists(
    sim: vf.Vcsim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VSPHERE_USER", sim.user)
    monkeypatch.setenv("VSPHERE_PASSWORD", sim.password)
    settings, _path = load_settings(write_config(sim, tmp_path / "config.toml"))
    name, context = resolve_context(settings, "vc")
    fleet = Fleet(name, build_backends(context, read_only=False), interval_s=context.poll_interval_s)
    with vf.observer(sim) as api:
        listed = {p["name"]: p["runtime.powerState"]
                  for p in vf.all_of(api, vim.VirtualMachine, ["name", "runtime.powerState"]).values()}
        app = NovaApp(fleet)
        async with app.run_test(size=(160, 48)) as pilot:
            inventory = app.screen
            assert isinstance(inventory, InventoryScreen)
            await wait_for(pilot, lambda: inventory.table.row_count == len(listed), 30,
                           "every VM vCenter lists in the inventory")
            shown = {vm.name: vm for k in inventory.table.row_keys() if (vm := inventory.vm(k))}
            assert set(shown) == set(listed)
            assert all(vm.state is VMState.RUNNING for vm in shown.values())
            assert all(vm.backend == "vc-sim" for vm in shown.values())

            victim = shown["DC0_H0_VM0"]
            vf.wait_task(_vm(api, victim.name).PowerOffVM_Task())  # another client
            await wait_for(pilot, lambda: _row_state(inventory, victim.key) is VMState.STOPPED, 30,
                           "the power-off made elsewhere on screen without waiting for a poll")

            await pilot.press("2")
            hosts = app.screen
            assert isinstance(hosts, HostsScreen)
            host_names = {p["name"] for p in vf.all_of(api, vim.HostSystem, ["name"]).values()}
            await wait_for(pilot, lambda: hosts.table.row_count == len(host_names), 10, "hosts")
            # clusters group the hosts: `cluster/host`, a cluster's hosts next to each other
            cells = [str(hosts.table.row(k).cells[0]) for k in hosts.table.row_keys()]
            clustered = [c for c in cells if "/" in c]
            assert clustered, cells
            order = [c.split("/")[0] for c in clustered]
            assert order == sorted(order), cells


def _row_state(inventory: InventoryScreen, key: str) -> VMState | None:
    vm = inventory.vm(key)
    return vm.state if vm is not None else None


def _vm(api: Any, name: str) -> Any:
    moid = next(m for m, p in vf.all_of(api, vim.VirtualMachine, ["name"]).items() if p["name"] == name)
    return vim.VirtualMachine(moid, api._stub)
