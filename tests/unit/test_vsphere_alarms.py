"""vCenter's triggered alarms as the console's alerts: vcsim raises none (and has no
AlarmManager to define one), so the conversion is tested here on pyVmomi's own data objects."""

from __future__ import annotations

import datetime as dt

from pyVmomi import vim

from backends.vsphere.inventory import Inventory
from backends.vsphere.metrics import alerts_from
from console.models import VM, Host, VMState


def test_triggered_alarms_become_alerts_on_their_host_or_vm() -> None:
    inventory = Inventory(hosts=[Host(id="host-1", name="esx-01", backend="vc")],
                          vms=[VM(id="uuid-1", name="web-01", state=VMState.RUNNING, host="esx-01",
                                  backend="vc")],
                          vm_moids={"uuid-1": "vm-7"})
    when = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)

    def state(alarm: str, entity: object, status: str) -> object:
        return vim.alarm.AlarmState(key=alarm, alarm=vim.alarm.Alarm(alarm), entity=entity,
                                    overallStatus=status, time=when, acknowledged=False)

    states = [state("alarm-1", vim.HostSystem("host-1"), "yellow"),
              state("alarm-2", vim.VirtualMachine("vm-7"), "red"),
              state("alarm-3", vim.VirtualMachine("vm-7"), "green")]
    names = {"alarm-1": {"info.name": "Host memory usage"},
             "alarm-2": {"info.name": "VM CPU \x1b[31musage", "info.description": "over 90 %"}}
    alerts = alerts_from(states, names, inventory, source="vc")
    assert [(a.severity, a.host, a.vm_name) for a in alerts] == [
        ("critical", "", "web-01"), ("warning", "esx-01", "")]
    assert "\x1b" not in alerts[0].name and alerts[0].vm_id == "uuid-1"
    assert alerts[0].active_since == when.timestamp() and alerts[0].description == "over 90 %"
