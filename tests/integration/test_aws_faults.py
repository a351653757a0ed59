"""Throttling and server errors between boto3 and moto (a fault-injecting loopback proxy):
actions still complete, nothing is done twice (counted through the EC2 API), and a call AWS
keeps throttling fails saying so."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from backends.aws.backend import AwsBackend
from backends.aws.clients import ClientSettings
from backends.aws.snapshots import TAG_INSTANCE, TAG_KEY
from console.actions.dispatcher import Dispatcher, Request, Target
from console.config import Context
from console.errors import Code
from console.fleet.polling import Fleet
from console.provision import create
from console.provision.create import CreateRequest
from console.store import open_store

from .aws_fixture import AMI, AwsWorld, FaultProxy

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


async def test_actions_complete_through_throttling_and_lost_answers_without_duplicates(
        aws_world: AwsWorld, tmp_path: Path) -> None:
    ids = aws_world.run(4)
    with FaultProxy(aws_world.url, every=3) as proxy:
        aws = AwsBackend("aws", profiles=["alpha"], regions=["eu-west-1"],
                         settings=ClientSettings(endpoint_url=proxy.url, max_attempts=6))
        async with open_store(tmp_path / "novacron.db") as store:
            dispatcher = Dispatcher({"aws": aws}, audit=store, context="cloud", read_only=False)
            outcomes = []
            for iid in ids:
                t = Target("aws", f"alpha:eu-west-1:{iid}", iid)
                for action, params in (("vm.snapshot_create", {"name": f"snap-{iid}"}),
                                       ("vm.shutdown", {"timeout_s": 30.0}),
                                       ("vm.snapshot_create", {"name": f"cold-{iid}"}),
                                       ("vm.start", {})):
                    outcomes.append(await dispatcher.run(
                        Request(action, t, params, confirmed=True, origin="test")))
            listed = await aws.vms()
        await aws.close()

    assert [o.error for o in outcomes if not o.ok] == []
    assert {aws_world.state(i) for i in ids} == {"running"}
    assert len(listed) == 4
    for outcome in outcomes:
        if outcome.request.action == "vm.snapshot_create":
            made = aws_world.snapshots(TAG_KEY, outcome.request.idempotency_key)
            assert len(made) == 1, (outcome.request.params, made)
    for iid in ids:
        assert len(aws_world.snapshots(TAG_INSTANCE, iid)) == 2
    # The proxy really did get in the way, including answers lost after moto acted.
    assert sum(proxy.faults.values()) >= 10
    assert any(k.startswith("lost:") for k in proxy.faults)
    assert proxy.faults["lost:CreateSnapshots"] >= 1  # the schedule is deterministic


async def test_a_call_throttled_past_its_retries_says_throttled(aws_world: AwsWorld) -> None:
    (iid,) = aws_world.run(1)
    with FaultProxy(aws_world.url, always=True) as proxy:
        aws = AwsBackend("aws", profiles=["alpha"], regions=["eu-west-1"],
                         settings=ClientSettings(endpoint_url=proxy.url, max_attempts=2))
        try:
            with pytest.raises(Exception) as caught:
                await aws.vms()
        finally:
            await aws.close()
    error = caught.value
    assert getattr(error, "kind", None) is Code.BACKEND_ERROR
    assert "throttled" in str(error) and "RequestLimitExceeded" in str(error)
    assert "DescribeInstances" in str(error) and "after 2 attempts" in str(error)
    assert proxy.seen["DescribeInstances"] == 2
    assert aws_world.state(iid) == "running"


async def test_a_sweep_slower_than_the_poll_timeout_is_handed_to_the_next_poll(
        aws_world: AwsWorld) -> None:
    """A fleet bigger than one poll's timeout is listed a poll late, never "never"."""
    ids = aws_world.run(3)
    with FaultProxy(aws_world.url, every=0, delay_s=0.6) as proxy:
        aws = AwsBackend("aws", profiles=["alpha"], regions=["eu-west-1"],
                         settings=ClientSettings(endpoint_url=proxy.url))
        fleet = Fleet("cloud", [aws], timeout_s=0.5)
        try:
            first = await fleet.poll_once()
            assert first.vms == () and "timed out" in first.health[0].error
            for _ in range(600):  # the sweep goes on after the poll gave up
                if aws._sweep_task is not None and aws._sweep_task.done():
                    break
                await asyncio.sleep(0.05)
            second = await fleet.poll_once()
        finally:
            await fleet.stop()
    assert second.health[0].ok
    assert sorted(vm.id.rpartition(":")[2] for vm in second.vms) == sorted(ids)
    assert proxy.seen["DescribeInstances"] == 1


async def test_creates_through_throttling_and_lost_answers_launch_each_instance_once(
        aws_world: AwsWorld, tmp_path: Path) -> None:
    """A RunInstances whose answer is lost after moto launched (moto ignores ClientToken) is
    not sent again before the request's tag is looked for."""
    context = Context(templates={"t": {"kind": "aws", "ami": AMI, "instance_type": "t3.micro"}})
    lost = 0
    for every in (2, 3):  # shifts the schedule so RunInstances meets each kind of fault
        with FaultProxy(aws_world.url, every=every) as proxy:
            aws = AwsBackend("aws", profiles=["alpha"], regions=["eu-west-1"],
                             settings=ClientSettings(endpoint_url=proxy.url, max_attempts=10))
            async with open_store(tmp_path / f"novacron-{every}.db") as store:
                dispatcher = Dispatcher({"aws": aws}, audit=store, context="cloud",
                                        read_only=False)
                snapshot = await Fleet("cloud", [aws], timeout_s=60).poll_once()
                planned = create.plan(CreateRequest(template="t", name=f"f{every}", count=3),
                                      context, snapshot, {"aws": "aws"})
                outcomes = [o for p in planned  # one at a time: the fault schedule repeats
                            for o in await create.run(dispatcher, [p], origin="test")]
            await aws.close()
        assert [str(o.error) for o in outcomes if not o.ok] == []
        lost += proxy.faults["lost:RunInstances"]
    names = sorted(
        t["Value"] for r in aws_world.ec2().describe_instances()["Reservations"]
        for i in r["Instances"] for t in i.get("Tags", ()) if t["Key"] == "Name")
    assert names == sorted(f"f{e}-{n}" for e in (2, 3) for n in (1, 2, 3))  # none twice
    assert lost >= 3  # answers were really lost after moto had launched (deterministic: one at a time)
