"""Launching an instance from a template: the `SupportsCreate` half of `AwsBackend`.

A saga of steps, each reported to the console (`backends.base.report_step`, audited): look
for the request id → check the name is free in the region → choose the instance type → launch
(RunInstances) → wait until it runs. A failure after the launch terminates the instance (the
compensation), so nothing half-made is left running and billed.

Idempotency: the request id is RunInstances' `ClientToken` (EC2 returns the instance already
made for a repeated token) and a `novacron:request` tag; the first step looks for an instance
carrying the tag, and a launch whose answer was lost is retried only after looking again, so
the same request twice makes one instance even where the token is not honoured (moto).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from backends.base import NewVM, Saga, action_key, report_step
from console.errors import Code, NovaError
from console.models import VM

from .errors import retryable
from .ids import InstanceRef
from .inventory import TypeSize, vm_from_instance
from .sizes import describe_size, family_of, smallest_fit

T = TypeVar("T")

TAG_REQUEST = "novacron:request"
LIVE_STATES = ["pending", "running", "stopping", "stopped"]
LAUNCH_ATTEMPTS = 6
RETRY_PAUSE_S = 0.5
RUNNING_POLL_S = 2.0
RUNNING_WAIT_S = 300.0


class CreateMixin:
    """Mixed into `AwsBackend`; relies on its `_api`, `describe`, `family_sizes`, `place_of`,
    `_sizes`, `name` and `several_profiles`."""

    name: str
    several_profiles: bool
    clients: Any
    _sizes: dict[str, TypeSize]
    _api: Callable[..., Any]
    describe: Callable[..., Any]
    family_sizes: Callable[..., Any]
    place_of: Callable[[str, Mapping[str, Any]], tuple[str, str, str]]

    async def create_vm(self, spec: NewVM) -> VM:
        template = dict(spec.template)
        profile, region, zone = self.place_of(spec.host, template)
        rid = spec.request_id or action_key.get() or uuid.uuid4().hex
        found = await self._made_by(profile, region, rid)
        if found is not None:
            await report_step("request", "ok", f"{rid}: already made as {found['InstanceId']}")
            return self._as_vm(profile, region, found)
        async with Saga() as saga:
            await saga.step("name", f"{spec.name} in {region}",
                            lambda: self._name_free(profile, region, spec.name))
            chosen = await _said("type", self._choose_type(profile, region,
                                                           template["instance_type"], spec))
            itype = chosen.partition(" ")[0]
            zone, where = await _said("zone", self._zone(profile, region, zone,
                                                         template.get("subnet", "")))
            args = _launch_args(spec, template, itype, zone, rid)
            instance = await saga.step(
                "launch", f"{spec.name}: {itype} from {template['ami']} in {where}",
                lambda: self._launch(profile, region, rid, args),
                undo=lambda made: self._terminate(profile, region, made["InstanceId"]))
            ref = InstanceRef(profile, region, instance["InstanceId"])
            running = await saga.step("running", f"{spec.name} ({ref.instance_id})",
                                      lambda: self._until_running(ref))
        return self._as_vm(profile, region, running)

    def _as_vm(self, profile: str, region: str, instance: dict[str, Any]) -> VM:
        return vm_from_instance(instance, ref=InstanceRef(profile, region, instance["InstanceId"]),
                                backend=self.name, sizes=self._sizes,
                                several_profiles=self.several_profiles)

    async def _instances(self, profile: str, region: str, *filters: dict[str, Any]) -> list[dict[str, Any]]:
        answer = await self._api("ec2", profile, region, "describe_instances", Filters=[
            *filters, {"Name": "instance-state-name", "Values": LIVE_STATES}])
        return [i for r in answer.get("Reservations", ()) for i in r.get("Instances", ())]

    async def _made_by(self, profile: str, region: str, rid: str) -> dict[str, Any] | None:
        """The instance this request already launched (not terminated), if any."""
        found = await self._instances(profile, region, {"Name": f"tag:{TAG_REQUEST}", "Values": [rid]})
        return found[0] if found else None

    async def _name_free(self, profile: str, region: str, name: str) -> None:
        taken = await self._instances(profile, region, {"Name": "tag:Name", "Values": [name]})
        if taken:
            raise NovaError(Code.NAME_TAKEN, f"{name} in {region} ({taken[0]['InstanceId']}): "
                            "choose another name (or terminate the instance that has it)")

    async def _choose_type(self, profile: str, region: str, itype: str, spec: NewVM) -> str:
        """The template's type when it is big enough, else the smallest of its family that
        fits the request; said as "m5.xlarge (4 vCPU, 16 GiB)…"."""
        family = await self.family_sizes(profile, region, family_of(itype))
        size = family.get(itype)
        if size is None:
            raise NovaError(Code.CONFIG_INVALID, f"instance type {itype} is not offered in {region}",
                            "choose another instance_type in the template")
        if size.vcpus >= spec.vcpus and size.memory_bytes >= spec.memory_bytes:
            return describe_size(itype, size)
        bigger = smallest_fit(family, vcpus=spec.vcpus, memory_bytes=spec.memory_bytes)
        return (f"{describe_size(bigger, family[bigger])}: the template's {itype} is smaller "
                f"than the {spec.vcpus} vCPU, {spec.memory_bytes / 2**30:g} GiB asked")

    async def _zone(self, profile: str, region: str, zone: str, subnet: str) -> tuple[str, str]:
        """The zone to launch in and how to say it: the subnet's zone decides when there is one."""
        if not subnet:
            return zone, zone or f"{region} (EC2 picks the zone)"
        answer = await self._api("ec2", profile, region, "describe_subnets", SubnetIds=[subnet])
        subnets = answer.get("Subnets", ())
        if not subnets:
            raise NovaError(Code.CONFIG_INVALID, f"subnet {subnet} in {region}",
                            "the template's subnet is not in this region/account")
        own = str(subnets[0].get("AvailabilityZone", ""))
        note = f"{subnet} in {own}" + (f" (the subnet's zone, not {zone})" if zone and zone != own else "")
        return "", note

    async def _launch(self, profile: str, region: str, rid: str, args: dict[str, Any]) -> dict[str, Any]:
        """RunInstances without botocore's retries: before each retry the request's tag is
        looked for, so an answer lost on the way back does not launch a second instance."""
        attempts = max(LAUNCH_ATTEMPTS, self.clients.settings.max_attempts)
        for attempt in range(1, attempts + 1):
            try:
                answer = await self._api("ec2", profile, region, "run_instances",
                                         single_attempt=True, **args)
                return dict(answer["Instances"][0])
            except NovaError as exc:
                if not retryable(exc) or attempt == attempts:
                    raise
            await asyncio.sleep(RETRY_PAUSE_S * attempt)
            made = await self._made_by(profile, region, rid)
            if made is not None:
                return made
        raise AssertionError("unreachable")

    async def _terminate(self, profile: str, region: str, instance_id: str) -> None:
        await self._api("ec2", profile, region, "terminate_instances", InstanceIds=[instance_id])

    async def _until_running(self, ref: InstanceRef, wait_s: float = RUNNING_WAIT_S) -> dict[str, Any]:
        deadline = time.monotonic() + wait_s
        while True:
            instance = await self.describe(ref)
            state = str(instance.get("State", {}).get("Name", ""))
            if state == "running":
                return dict(instance)
            if state not in ("pending",):
                reason = instance.get("StateReason", {}).get("Message", "") or state
                raise NovaError(Code.BACKEND_ERROR, f"{ref} went {state} instead of running",
                                str(reason))
            if time.monotonic() >= deadline:
                raise NovaError(Code.TIMEOUT, f"{ref} still pending after {wait_s:g} s",
                                "EC2 has not started it; it is terminated so nothing is billed")
            await asyncio.sleep(RUNNING_POLL_S)


async def _said(step: str, work: Awaitable[T]) -> T:
    """A step that makes nothing (nothing to undo), reported with its outcome."""
    try:
        value = await work
    except NovaError as exc:
        await report_step(step, "failed", str(exc))
        raise
    await report_step(step, "ok", value[1] if isinstance(value, tuple) else str(value))
    return value


def _launch_args(spec: NewVM, template: Mapping[str, Any], itype: str, zone: str,
                 rid: str) -> dict[str, Any]:
    """RunInstances' arguments: one instance, tagged (Name, template tags, request id)."""
    tags = [{"Key": "Name", "Value": spec.name}, {"Key": TAG_REQUEST, "Value": rid}]
    for tag in spec.tags:
        key, _, value = tag.partition("=")
        if key and key not in ("Name", TAG_REQUEST):
            tags.append({"Key": key, "Value": value})
    args: dict[str, Any] = {
        "ImageId": template["ami"], "InstanceType": itype, "MinCount": 1, "MaxCount": 1,
        "ClientToken": rid[:64],
        "TagSpecifications": [{"ResourceType": kind, "Tags": tags}
                              for kind in ("instance", "volume")]}
    if template.get("subnet"):
        args["SubnetId"] = template["subnet"]
    elif zone:
        args["Placement"] = {"AvailabilityZone": zone}
    if template.get("security_groups"):
        args["SecurityGroupIds"] = list(template["security_groups"])
    if template.get("key_name"):
        args["KeyName"] = template["key_name"]
    return args
