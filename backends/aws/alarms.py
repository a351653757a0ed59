"""CloudWatch alarms in state ALARM as the console's firing alerts: the `alerts` part of the
`SupportsMetrics` half of `AwsBackend`.

DescribeAlarms(StateValue=ALARM) per (profile, region) of the last inventory, every page,
asked again at most once a minute (the wall and the metrics screen both ask). An alarm on an
instance (an `InstanceId` dimension) is linked to that VM and its zone, so the alerts panel
jumps to its row. CloudWatch has no severity: every alarm is a warning unless its name or
description says critical.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from console.models import VM, Alert
from console.sanitize import clean

from .ids import InstanceRef

ALARMS_TTL_S = 60.0


class AlarmsMixin:
    """Mixed into `AwsBackend`; relies on its `pages`, `clock`, `name` and sweeps."""

    name: str
    clock: Callable[[], float]
    pages: Callable[..., Any]
    _shared_sweep: Callable[[], Any]

    def _init_alarms(self) -> None:
        self._alarms: tuple[float, list[Alert]] | None = None
        self.alarms_error = ""
        """Why some profile/region pairs' alarms are missing (empty: all answered)."""

    async def alerts(self) -> Sequence[Alert]:
        """SupportsMetrics: alarms in ALARM, most recent first. A pair that does not answer
        is left out and named in `alarms_error`; when none answers, its error is raised."""
        now = self.clock()
        if self._alarms is not None and now - self._alarms[0] < ALARMS_TTL_S:
            return self._alarms[1]
        last = getattr(self, "_last", None) or await self._shared_sweep()  # to name the VMs
        pairs = sorted(last.quota_vcpus)
        by_id = {vm.id: vm for vm in last.vms}
        found = await asyncio.gather(*(self._alarms_in(p, r, by_id) for p, r in pairs),
                                     return_exceptions=True)
        failed = [f for f in found if isinstance(f, BaseException)]
        if failed and len(failed) == len(found):
            raise failed[0]
        self.alarms_error = "; ".join(str(f) for f in failed)
        alerts = sorted((a for got in found if not isinstance(got, BaseException) for a in got),
                        key=lambda a: -(a.active_since or 0.0))
        self._alarms = (now, alerts)
        return alerts

    async def _alarms_in(self, profile: str, region: str, vms: Mapping[str, VM]) -> list[Alert]:
        pages = await self.pages("cloudwatch", profile, region, "describe_alarms",
                                 StateValue="ALARM", MaxRecords=100)
        return [alert_of(a, profile, region, source=self.name, vms=vms)
                for page in pages for a in page.get("MetricAlarms", ())]


def alert_of(alarm: Mapping[str, Any], profile: str, region: str, *, source: str,
             vms: Mapping[str, VM]) -> Alert:
    """One DescribeAlarms record as a firing Alert (every string sanitized)."""
    dims = {str(d.get("Name", "")): str(d.get("Value", "")) for d in alarm.get("Dimensions", ())}
    vm = None
    vm_id = ""
    if dims.get("InstanceId", "").startswith("i-"):
        vm_id = str(InstanceRef(profile, region, dims["InstanceId"]))
        vm = vms.get(vm_id)
    name = clean(str(alarm.get("AlarmName", "")))
    description = clean(str(alarm.get("AlarmDescription", "")), max_len=1024)
    severe = "critical" in f"{name} {description}".lower()
    since = alarm.get("StateUpdatedTimestamp")
    labels = (("region", region), ("profile", profile),
              ("metric", clean(str(alarm.get("MetricName", "")))),
              ("namespace", clean(str(alarm.get("Namespace", "")))),
              *((clean(k), clean(v)) for k, v in sorted(dims.items())))
    return Alert(
        name=name, state="firing", source=source, severity="critical" if severe else "warning",
        summary=description or clean(str(alarm.get("StateReason", "")), max_len=1024),
        description=clean(str(alarm.get("StateReason", "")), max_len=1024),
        host=vm.host if vm is not None else "", vm_id=vm_id,
        vm_name=vm.name if vm is not None else "",
        active_since=since.timestamp() if isinstance(since, dt.datetime) else None,
        labels=labels)


