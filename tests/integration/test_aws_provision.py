"""Creating and resizing EC2 instances through the scheduler, the dispatcher and a real audit
store, on moto's server over HTTP; every result checked afterwards through the EC2 API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from backends.aws.backend import AwsBackend
from backends.aws.clients import ClientSettings
from backends.aws.create import TAG_REQUEST
from backends.base import SupportsCreate, SupportsResize, SupportsRestartResize
from console.actions.dispatcher import Dispatcher, Outcome
from console.config import Context
from console.errors import Code
from console.fleet.polling import Fleet
from console.provision import create, resize
from console.provision.create import CreateRequest
from console.provision.resize import resize_request
from console.store import open_store

from .aws_fixture import AMI, AwsWorld, FaultProxy, post

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

TEMPLATE = {"kind": "aws", "ami": AMI, "instance_type": "m5.large", "tags": ["team=web"],
            "description": "web server"}


@dataclass
class Console:
    aws: AwsBackend
    dispatcher: Dispatcher
    context: Context
    steps: list[tuple[str, str, str, str]] = field(default_factory=list)

    async def on_step(self, name: str, step: str, status: str, detail: str) -> None:
        self.steps.append((name, step, status, detail))

    async def create(self, **fields: Any) -> list[Outcome]:
        snapshot = await Fleet("cloud", [self.aws], timeout_s=60).poll_once()  # no loop started
        planned = create.plan(CreateRequest(template="ec2-tpl", **fields), self.context,
                              snapshot, {"aws": "aws"})
        return await create.run(self.dispatcher, planned, origin="test", on_step=self.on_step)

    async def resize(self, instance_id: str, **fields: Any) -> Outcome:
        vm = next(vm for vm in await self.aws.vms() if vm.id.endswith(instance_id))
        request = resize_request(vm, origin="test", **fields)
        (outcome,) = await resize.run(self.dispatcher, [request], on_step=self.on_step)
        return outcome


@pytest.fixture
async def console(aws_world: AwsWorld, tmp_path: Path) -> AsyncIterator[Console]:
    aws = AwsBackend("aws", profiles=["alpha"], regions=["eu-west-1"])
    assert isinstance(aws, SupportsCreate) and isinstance(aws, SupportsResize)
    assert isinstance(aws, SupportsRestartResize)
    context = Context(templates={"ec2-tpl": TEMPLATE})
    async with open_store(tmp_path / "novacron.db") as store:
        yield Console(aws, Dispatcher({"aws": aws}, audit=store, context="cloud",
                                      read_only=False), context)
    await aws.close()


def instances(world: AwsWorld, **filters: str) -> list[dict[str, Any]]:
    answer = world.ec2().describe_instances(Filters=[
        *({"Name": k, "Values": [v]} for k, v in filters.items()),
        {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}])
    return [i for r in answer["Reservations"] for i in r["Instances"]]


def tags(instance: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in instance.get("Tags", ())}


async def test_create_launches_tagged_running_and_the_same_request_twice_makes_one(
        aws_world: AwsWorld, console: Console) -> None:
    zones = {h.name for h in await console.aws.hosts()}
    assert {"eu-west-1a", "eu-west-1b"} <= zones  # empty zones are hosts a VM can go to

    first = await console.create(name="web", count=2, request_id="req-web-01")
    assert [o.status for o in first] == ["ok", "ok"], [str(o.error) for o in first]
    again = await console.create(name="web", count=2, request_id="req-web-01")
    assert [o.status for o in again] == ["ok", "ok"]

    made = instances(aws_world, **{"tag-key": TAG_REQUEST})
    assert sorted(tags(i)["Name"] for i in made) == ["web-1", "web-2"]  # two, not four
    for i in made:
        n = tags(i)["Name"][-1]
        assert tags(i) == {"Name": f"web-{n}", "team": "web", TAG_REQUEST: f"req-web-01-{n}"}
        assert i["State"]["Name"] == "running" and i["InstanceType"] == "m5.large"
        assert i["ImageId"] == AMI
    assert {o.value.id.rpartition(":")[2] for o in first} == {i["InstanceId"] for i in made}
    assert {o.value.id for o in again} == {o.value.id for o in first}

    web1 = [(step, status) for name, step, status, _ in console.steps if name == "web-1"]
    assert web1 == [("name", "started"), ("name", "ok"), ("type", "ok"), ("zone", "ok"),
                    ("launch", "started"), ("launch", "ok"), ("running", "started"),
                    ("running", "ok"), ("request", "ok")]


async def test_create_asking_more_than_the_template_type_gets_the_family_size_that_fits(
        aws_world: AwsWorld, console: Console) -> None:
    (outcome,) = await console.create(name="big", vcpus=4, memory_bytes=12 * 2**30)
    assert outcome.ok, outcome.error
    (made,) = instances(aws_world, **{"tag:Name": "big"})
    assert made["InstanceType"] == "m5.xlarge"  # 4 vCPU, 16 GiB: the smallest m5 that fits
    said = next(d for _n, step, _s, d in console.steps if step == "type")
    assert said.startswith("m5.xlarge (4 vCPU, 16 GiB): the template's m5.large is smaller")


async def test_a_name_in_use_is_refused_before_anything_is_launched(
        aws_world: AwsWorld, console: Console) -> None:
    aws_world.run(1, tags={"Name": "db"})
    (outcome,) = await console.create(name="db", request_id="req-db")
    assert outcome.error is not None and outcome.error.kind is Code.NAME_TAKEN
    assert len(instances(aws_world, **{"tag:Name": "db"})) == 1


async def test_resizing_a_running_instance_says_it_must_be_stopped_and_changes_nothing(
        aws_world: AwsWorld, console: Console) -> None:
    (iid,) = aws_world.run(1, tags={"Name": "app"})
    outcome = await console.resize(iid, vcpus=4)
    assert outcome.error is not None and outcome.error.kind is Code.INVALID_STATE
    text = str(outcome.error)
    assert "only while it is stopped" in text and "--restart" in text and "m5.xlarge" in text
    assert aws_world.ec2().describe_instances(InstanceIds=[iid])["Reservations"][0][
        "Instances"][0]["InstanceType"] == "m5.large"
    assert aws_world.state(iid) == "running"


async def test_a_stopped_instance_is_resized_and_stays_stopped(
        aws_world: AwsWorld, console: Console) -> None:
    (iid,) = aws_world.run(1, tags={"Name": "batch"})
    aws_world.ec2().stop_instances(InstanceIds=[iid])
    outcome = await console.resize(iid, memory_bytes=30 * 2**30)
    assert outcome.ok, outcome.error
    assert "m5.2xlarge (8 vCPU, 32 GiB), the smallest m5 type that fits" in outcome.value.note
    record = aws_world.ec2().describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    assert record["InstanceType"] == "m5.2xlarge" and record["State"]["Name"] == "stopped"


async def test_restart_resize_stops_resizes_and_starts_as_one_audited_action(
        aws_world: AwsWorld, console: Console) -> None:
    (iid,) = aws_world.run(1, tags={"Name": "api"})
    outcome = await console.resize(iid, vcpus=4, memory_bytes=16 * 2**30, restart=True)
    assert outcome.ok, outcome.error
    assert outcome.value.note.startswith("m5.large (2 vCPU, 8 GiB) → m5.xlarge (4 vCPU, 16 GiB)")
    record = aws_world.ec2().describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    assert record["InstanceType"] == "m5.xlarge" and record["State"]["Name"] == "running"
    assert [(s, st) for _n, s, st, _d in console.steps] == [
        ("stop", "started"), ("stop", "ok"), ("type", "started"), ("type", "ok"),
        ("start", "started"), ("start", "ok")]
    rows = await console.dispatcher.audit.audit(limit=20)  # type: ignore[attr-defined]
    actions = sorted((r.action, r.status.value) for r in rows)
    assert actions == sorted([("vm.resize", "ok"), ("vm.resize.stop", "ok"),
                              ("vm.resize.type", "ok"), ("vm.resize.start", "ok")])


async def test_a_failed_type_change_starts_the_instance_again(
        aws_world: AwsWorld, tmp_path: Path) -> None:
    iam = aws_world.client("iam", "alpha", "us-east-1")
    iam.create_user(UserName="operator")
    iam.put_user_policy(UserName="operator", PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": "ec2:ModifyInstanceAttribute", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="operator")["AccessKey"]
    aws_world.creds["operator"] = {"aws_access_key_id": key["AccessKeyId"],
                                   "aws_secret_access_key": key["SecretAccessKey"]}
    aws_world.write_files()
    (iid,) = aws_world.run(1, tags={"Name": "edge"})
    aws = AwsBackend("aws", profiles=["operator"], regions=["eu-west-1"])
    post(aws_world.url, "/moto-api/reset-auth", b"0")  # IAM enforced from now on
    try:
        async with open_store(tmp_path / "novacron.db") as store:
            c = Console(aws, Dispatcher({"aws": aws}, audit=store, context="cloud",
                                        read_only=False), Context())
            outcome = await c.resize(iid, vcpus=4, restart=True)
    finally:
        post(aws_world.url, "/moto-api/reset-auth", b"inf")
        await aws.close()
    assert outcome.error is not None and outcome.error.kind is Code.PERMISSION_DENIED
    assert "ModifyInstanceAttribute" in str(outcome.error)
    record = aws_world.ec2().describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    assert record["InstanceType"] == "m5.large" and record["State"]["Name"] == "running"
    assert [(s, st) for _n, s, st, _d in c.steps] == [
        ("stop", "started"), ("stop", "ok"), ("type", "started"), ("type", "failed"),
        ("stop", "undoing"), ("stop", "undone")]


def test_cli_lists_the_template_and_creates_two_from_it(aws_world: AwsWorld, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[contexts.cloud]\n\n[[contexts.cloud.backends]]\nkind = "aws"\nname = "aws"\n'
        'profiles = ["alpha"]\nregions = ["eu-west-1"]\n\n'
        '[contexts.cloud.templates.ec2-tpl]\nkind = "aws"\n'
        f'ami = "{AMI}"\ninstance_type = "t3.micro"\ndescription = "small web"\n')
    env = {**os.environ, "NOVACRON_CONFIG": str(config), "NOVACRON_STATE_DIR": str(tmp_path / "state")}
    exe = str(Path(sys.executable).with_name("novacron"))

    def novacron(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([exe, "--context", "cloud", *args], env=env, capture_output=True,
                              text=True, timeout=120, check=False)

    listed = novacron("template", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert (row["name"], row["kind"], row["source"]) == ("ec2-tpl", "aws", f"{AMI} (t3.micro)")

    made = novacron("vm", "create", "--template", "ec2-tpl", "--name", "n", "--count", "2")
    assert made.returncode == 0, made.stdout + made.stderr
    assert "n-1: launch ok" in made.stderr and "n-2: running ok" in made.stderr
    found = instances(aws_world, **{"tag-key": TAG_REQUEST})
    assert sorted(tags(i)["Name"] for i in found) == ["n-1", "n-2"]
    assert {i["InstanceType"] for i in found} == {"t3.micro"}


async def test_the_template_subnet_groups_and_key_are_what_the_instance_gets(
        aws_world: AwsWorld, console: Console) -> None:
    ec2 = aws_world.ec2()
    subnet = next(s for s in ec2.describe_subnets()["Subnets"]
                  if s["AvailabilityZone"] == "eu-west-1b")
    group = ec2.create_security_group(GroupName="web", Description="web",
                                      VpcId=subnet["VpcId"])["GroupId"]
    ec2.create_key_pair(KeyName="ops")
    console.context = Context(templates={"ec2-tpl": {
        **TEMPLATE, "subnet": subnet["SubnetId"], "security_groups": [group], "key_name": "ops"}})
    (outcome,) = await console.create(name="edge", host="eu-west-1a")  # the subnet decides
    assert outcome.ok, outcome.error
    (made,) = instances(aws_world, **{"tag:Name": "edge"})
    assert made["SubnetId"] == subnet["SubnetId"] and made["KeyName"] == "ops"
    assert made["Placement"]["AvailabilityZone"] == "eu-west-1b"
    assert [g["GroupId"] for g in made["SecurityGroups"]] == [group]
    zone = next(d for _n, step, _s, d in console.steps if step == "zone")
    assert zone == f"{subnet['SubnetId']} in eu-west-1b (the subnet's zone, not eu-west-1a)"
    assert outcome.value.host == "eu-west-1b"


class DeniesDescribeAfterLaunch(FaultProxy):
    """Forwards everything, but once an instance was launched answers DescribeInstances with
    UnauthorizedOperation (not retried): the create's wait for `running` fails."""

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        action = parse_qs(body.decode(errors="replace")).get("Action", [""])[0]
        self.seen[action] += 1
        if action == "DescribeInstances" and self.seen["RunInstances"]:
            self.faults["denied:DescribeInstances"] += 1
            return self._answer(request, 403, DENIED)
        status, headers, payload = self._forward(request, body)
        return self._answer(request, status, payload, headers)


DENIED = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
          b"<Code>UnauthorizedOperation</Code><Message>You are not authorized.</Message>"
          b"</Error></Errors><RequestID>novacron-fault</RequestID></Response>")


async def test_a_create_failing_after_the_launch_terminates_the_instance(
        aws_world: AwsWorld, tmp_path: Path) -> None:
    with DeniesDescribeAfterLaunch(aws_world.url, every=0) as proxy:
        aws = AwsBackend("aws", profiles=["alpha"], regions=["eu-west-1"],
                         settings=ClientSettings(endpoint_url=proxy.url))
        try:
            async with open_store(tmp_path / "novacron.db") as store:
                c = Console(aws, Dispatcher({"aws": aws}, audit=store, context="cloud",
                                            read_only=False), Context(templates={"ec2-tpl": TEMPLATE}))
                (outcome,) = await c.create(name="doomed")
                rows = {(r.action, r.status.value) for r in await store.audit(limit=30)}
        finally:
            await aws.close()
    assert outcome.error is not None and outcome.error.kind is Code.PERMISSION_DENIED
    assert proxy.seen["TerminateInstances"] == 1
    answer = aws_world.ec2().describe_instances(Filters=[{"Name": "tag:Name", "Values": ["doomed"]}])
    (made,) = [i for r in answer["Reservations"] for i in r["Instances"]]
    assert made["State"]["Name"] in ("shutting-down", "terminated")  # nothing left billed
    assert [(s, st) for _n, s, st, _d in c.steps][-4:] == [
        ("running", "started"), ("running", "failed"), ("launch", "undoing"), ("launch", "undone")]
    assert {("vm.create", "failed"), ("vm.create.running", "failed"),
            ("vm.create.launch.undo", "ok")} <= rows
