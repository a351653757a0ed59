"""EBS snapshots of an instance's volumes: the `SupportsSnapshots` half of `AwsBackend`.

A console snapshot is one CreateSnapshots call (every attached volume, crash-consistent across
them), tagged `novacron:snapshot=<name>`, `novacron:instance=<id>` and
`novacron:action-key=<the audited action's key>`. CreateSnapshots takes no ClientToken, so it
is sent without botocore's retries; before the first try and before each retry the snapshots
carrying the action key are looked for, so a request whose answer was lost is not made twice.
Reverting is not an EC2 operation (a snapshot becomes a new volume to swap in): refused, with
the way to do it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from backends.base import action_key
from console.errors import Code, NovaError
from console.models import Snapshot
from console.sanitize import clean

from .errors import retryable
from .ids import InstanceRef

TAG_NAME = "novacron:snapshot"
TAG_INSTANCE = "novacron:instance"
TAG_KEY = "novacron:action-key"
CREATE_ATTEMPTS = 6
RETRY_PAUSE_S = 0.5
WORST_FIRST = ("error", "pending", "recoverable", "recovering", "completed")


class SnapshotsMixin:
    """Mixed into `AwsBackend`; relies on its `_api`, `pages`, `ref` and `describe`."""

    _api: Callable[..., Any]
    pages: Callable[..., Any]
    ref: Callable[[str], InstanceRef]
    describe: Callable[..., Any]

    async def _ebs_snapshots(self, ref: InstanceRef, *filters: dict[str, Any]) -> list[dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for one in filters:
            for page in await self.pages("ec2", ref.profile, ref.region, "describe_snapshots",
                                         OwnerIds=["self"], Filters=[one], MaxResults=1000):
                found.update({s["SnapshotId"]: s for s in page.get("Snapshots", ())})
        return list(found.values())

    async def _of_instance(self, ref: InstanceRef) -> list[dict[str, Any]]:
        """Snapshots the console took of it, and any other of its current volumes."""
        instance = await self.describe(ref)
        volumes = [m["Ebs"]["VolumeId"] for m in instance.get("BlockDeviceMappings", ()) if "Ebs" in m]
        filters = [{"Name": f"tag:{TAG_INSTANCE}", "Values": [ref.instance_id]}]
        if volumes:
            filters.append({"Name": "volume-id", "Values": volumes})
        return await self._ebs_snapshots(ref, *filters)

    async def snapshots(self, vm_id: str) -> list[Snapshot]:
        ref = self.ref(vm_id)
        groups = group(await self._of_instance(ref))
        found = [Snapshot(name=clean(name), vm_id=vm_id, created_at=min(_started(s) for s in ebs),
                          state=next((st for st in WORST_FIRST if any(s.get("State") == st for s in ebs)),
                                     clean(ebs[0].get("State", ""))),
                          description=clean(ebs[0].get("Description", ""), max_len=1024))
                 for name, ebs in groups.items()]
        return sorted(found, key=lambda s: (s.created_at, s.name))

    async def create_snapshot(self, vm_id: str, name: str, description: str = "") -> None:
        if not name or clean(name) != name or len(name) > 255:
            raise NovaError(Code.INVALID_STATE, repr(name), "snapshot names must be printable, "
                            "non-empty and at most 255 characters")
        ref = self.ref(vm_id)
        key = action_key.get() or uuid.uuid4().hex
        mine = await self._ebs_snapshots(ref, {"Name": f"tag:{TAG_INSTANCE}", "Values": [ref.instance_id]})
        if any(_tags(s).get(TAG_KEY) == key for s in mine):
            return  # this very action already made them (a retried request)
        if any(_tags(s).get(TAG_NAME) == name for s in mine):
            raise NovaError(Code.INVALID_STATE, f"{ref} already has a snapshot named {name!r}",
                            "choose another name")
        tags = [{"Key": "Name", "Value": name}, {"Key": TAG_NAME, "Value": name},
                {"Key": TAG_INSTANCE, "Value": ref.instance_id}, {"Key": TAG_KEY, "Value": key}]
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            try:
                await self._api("ec2", ref.profile, ref.region, "create_snapshots",
                                single_attempt=True,
                                InstanceSpecification={"InstanceId": ref.instance_id},
                                Description=description or f"NovaCron snapshot {name}",
                                TagSpecifications=[{"ResourceType": "snapshot", "Tags": tags}])
                return
            except NovaError as exc:
                if not retryable(exc) or attempt == CREATE_ATTEMPTS:
                    raise
            await asyncio.sleep(RETRY_PAUSE_S * attempt)
            made = await self._ebs_snapshots(ref, {"Name": f"tag:{TAG_KEY}", "Values": [key]})
            if made:
                return  # the lost answer had made them

    async def revert_snapshot(self, vm_id: str, name: str) -> None:
        raise NovaError(Code.NOT_SUPPORTED, "EC2 has no revert-to-snapshot",
                        "an EBS snapshot is restored by creating a volume from it and swapping "
                        "it for the instance's volume (stop, detach, attach), or by launching a "
                        "new instance from an AMI; do that with the AWS console or CLI")

    async def delete_snapshot(self, vm_id: str, name: str) -> None:
        ref = self.ref(vm_id)
        ebs = group(await self._of_instance(ref)).get(name)
        if not ebs:
            raise NovaError(Code.VM_NOT_FOUND, f"no snapshot {name!r} of {ref}")
        for snap in ebs:
            try:
                await self._api("ec2", ref.profile, ref.region, "delete_snapshot",
                                SnapshotId=snap["SnapshotId"])
            except NovaError as exc:
                if exc.kind is not Code.VM_NOT_FOUND:  # already gone: that is what we wanted
                    raise


def _tags(snapshot: dict[str, Any]) -> dict[str, str]:
    return {t.get("Key", ""): t.get("Value", "") for t in snapshot.get("Tags", ())}


def _started(snapshot: dict[str, Any]) -> float:
    start = snapshot.get("StartTime")
    return start.timestamp() if isinstance(start, dt.datetime) else 0.0


def group(ebs: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """EBS snapshots by console snapshot: by the `novacron:snapshot` tag, else one per EBS
    snapshot under its Name tag or id (snapshots the console did not take)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for snap in ebs:
        tags = _tags(snap)
        name = tags.get(TAG_NAME) or tags.get("Name") or snap["SnapshotId"]
        groups.setdefault(name, []).append(snap)
    return groups
