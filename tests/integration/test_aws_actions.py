"""Lifecycle and snapshot actions on EC2 instances through the dispatcher (with a real audit
store), each checked afterwards through the EC2 API of moto's server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from backends.aws.backend import AwsBackend
from backends.aws.snapshots import TAG_KEY
from backends.base import SupportsPower, SupportsSnapshots, action_key
from console.actions.dispatcher import Dispatcher, Outcome, Request, Target
from console.errors import Code
from console.store import open_store

from .aws_fixture import AwsWorld

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


@pytest.fixture
async def console(aws_world: AwsWorld, tmp_path: Path
                  ) -> AsyncIterator[tuple[Dispatcher, AwsBackend]]:
    aws = AwsBackend("aws", profiles=["alpha", "beta"], regions=["eu-west-1"])
    assert isinstance(aws, SupportsPower) and isinstance(aws, SupportsSnapshots)
    async with open_store(tmp_path / "novacron.db") as store:
        yield Dispatcher({"aws": aws}, audit=store, context="cloud", read_only=False), aws
    await aws.close()


def target(instance_id: str, profile: str = "alpha") -> Target:
    return Target("aws", f"{profile}:eu-west-1:{instance_id}", instance_id)


async def act(dispatcher: Dispatcher, action: str, instance_id: str, profile: str = "alpha",
              **params: object) -> Outcome:
    t = target(instance_id, profile)
    return await dispatcher.run(Request(action, t, params, confirmed=True, typed_name=t.name,
                                        origin="test"))


async def test_stop_start_reboot_terminate_each_seen_through_the_ec2_api(
        aws_world: AwsWorld, console: tuple[Dispatcher, AwsBackend]) -> None:
    dispatcher, _aws = console
    (iid,) = aws_world.run(1, profile="beta")

    stopped = await act(dispatcher, "vm.shutdown", iid, "beta", timeout_s=30.0)
    assert stopped.ok, stopped.error
    assert aws_world.state(iid, "beta") == "stopped"

    again = await act(dispatcher, "vm.shutdown", iid, "beta", timeout_s=30.0)
    assert again.error is not None and again.error.kind is Code.INVALID_STATE
    assert "already stopped" in str(again.error)

    started = await act(dispatcher, "vm.start", iid, "beta")
    assert started.ok, started.error
    assert aws_world.state(iid, "beta") == "running"

    rebooted = await act(dispatcher, "vm.reboot", iid, "beta")
    assert rebooted.ok, rebooted.error
    assert aws_world.state(iid, "beta") == "running"  # EC2 shows no trace of a reboot

    forced = await act(dispatcher, "vm.force_off", iid, "beta")
    assert forced.ok, forced.error
    assert aws_world.state(iid, "beta") == "stopped"

    deleted = await act(dispatcher, "vm.delete", iid, "beta")
    assert deleted.ok, deleted.error
    assert aws_world.state(iid, "beta") == "terminated"


async def test_suspend_hibernates_only_instances_configured_for_it(
        aws_world: AwsWorld, console: tuple[Dispatcher, AwsBackend]) -> None:
    dispatcher, _aws = console
    (plain,) = aws_world.run(1)
    (sleeper,) = aws_world.run(1, HibernationOptions={"Configured": True})

    refused = await act(dispatcher, "vm.suspend", plain)
    assert refused.error is not None and refused.error.kind is Code.NOT_SUPPORTED
    assert "not configured for hibernation" in str(refused.error)
    assert aws_world.state(plain) == "running"

    slept = await act(dispatcher, "vm.suspend", sleeper)
    assert slept.ok, slept.error
    assert aws_world.state(sleeper) == "stopped"
    woke = await act(dispatcher, "vm.resume", sleeper)
    assert woke.ok, woke.error
    assert aws_world.state(sleeper) == "running"


async def test_termination_protection_is_a_clear_refusal(
        aws_world: AwsWorld, console: tuple[Dispatcher, AwsBackend]) -> None:
    dispatcher, _aws = console
    (iid,) = aws_world.run(1)
    aws_world.ec2().modify_instance_attribute(InstanceId=iid, DisableApiTermination={"Value": True})

    refused = await act(dispatcher, "vm.delete", iid)

    assert refused.error is not None and refused.error.kind is Code.INVALID_STATE
    assert "DisableApiTermination" in str(refused.error)
    assert "OperationNotPermitted" in refused.error.cause
    assert aws_world.state(iid) == "running"


async def test_snapshot_covers_every_volume_tagged_with_the_action_and_lists_and_deletes(
        aws_world: AwsWorld, console: tuple[Dispatcher, AwsBackend]) -> None:
    dispatcher, aws = console
    (iid,) = aws_world.run(1)
    ec2 = aws_world.ec2()
    volume = ec2.create_volume(Size=20, AvailabilityZone="eu-west-1a")["VolumeId"]
    ec2.attach_volume(VolumeId=volume, InstanceId=iid, Device="/dev/sdf")

    taken = await act(dispatcher, "vm.snapshot_create", iid, name="before-upgrade")

    assert taken.ok, taken.error
    made = aws_world.snapshots(TAG_KEY, taken.request.idempotency_key)
    assert sorted(s["VolumeId"] for s in made) == sorted(
        [volume, *(m["Ebs"]["VolumeId"] for m in ec2.describe_instances(InstanceIds=[iid])
                   ["Reservations"][0]["Instances"][0]["BlockDeviceMappings"]
                   if m["Ebs"]["VolumeId"] != volume)])
    listed = await dispatcher.run(Request("vm.snapshots", target(iid), {}, origin="test"))
    assert [s.name for s in listed.value] == ["before-upgrade"]

    # The same action retried (its key set again) finds its snapshots and makes none.
    token = action_key.set(taken.request.idempotency_key)
    try:
        await aws.create_snapshot(target(iid).vm_id, "before-upgrade")
    finally:
        action_key.reset(token)
    assert len(aws_world.snapshots(TAG_KEY, taken.request.idempotency_key)) == 2

    reverted = await act(dispatcher, "vm.snapshot_revert", iid, snapshot="before-upgrade")
    assert reverted.error is not None and reverted.error.kind is Code.NOT_SUPPORTED
    assert "create a volume" in str(reverted.error) or "creating a volume" in str(reverted.error)

    dropped = await act(dispatcher, "vm.snapshot_delete", iid, snapshot="before-upgrade")
    assert dropped.ok, dropped.error
    assert aws_world.snapshots(TAG_KEY, taken.request.idempotency_key) == []


async def test_an_unknown_instance_is_vm_not_found(
        aws_world: AwsWorld, console: tuple[Dispatcher, AwsBackend]) -> None:
    dispatcher, _aws = console
    outcome = await act(dispatcher, "vm.start", "i-0123456789abcdef0")
    assert outcome.error is not None and outcome.error.kind is Code.VM_NOT_FOUND
    assert "InvalidInstanceID.NotFound" in outcome.error.cause
