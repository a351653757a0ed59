"""The AWS inventory against moto's server over HTTP: two profiles (two accounts) x three
regions, paginated, sized by instance type, states mapped, terminated instances fading out,
"all" regions, the config file's `services` endpoint, and capacity against the quota."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator

import pytest

from backends import registry
from backends.aws.backend import AwsBackend
from backends.aws.inventory import TERMINATED_SHOWN_S
from console.models import VMState

from .aws_fixture import REGIONS, AwsWorld

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


@pytest.fixture
async def backend(aws_world: AwsWorld) -> AsyncIterator[AwsBackend]:
    aws = AwsBackend("aws", profiles=["alpha", "beta"], regions=list(REGIONS), page_size=5)
    yield aws
    await aws.close()


async def test_lists_over_a_thousand_instances_of_two_accounts_in_three_regions(
        aws_world: AwsWorld, backend: AwsBackend) -> None:
    launched: dict[tuple[str, str], list[str]] = {}
    for profile in ("alpha", "beta"):
        for region in REGIONS:
            ids: list[str] = []
            for n in range(6):  # six reservations: two pages of five per pair
                ids += aws_world.run(30, profile=profile, region=region,
                                     instance_type="t3.micro" if n % 2 else "m5.large",
                                     tags={"team": f"{profile}-{n}"})
            launched[(profile, region)] = ids
    assert sum(len(v) for v in launched.values()) == 1080

    vms = await backend.vms()
    hosts = await backend.hosts()

    assert len(vms) == 1080
    assert len({vm.id for vm in vms}) == 1080
    by_pair = Counter(tuple(vm.id.split(":")[:2]) for vm in vms)
    assert by_pair == {pair: len(ids) for pair, ids in launched.items()}
    listed = {vm.id.rpartition(":")[2] for vm in vms}
    assert listed == {i for ids in launched.values() for i in ids}
    expected = {"ec2:type=m5.large": (2, 8 * 2**30), "ec2:type=t3.micro": (2, 2**30)}
    types = {vm.id: next(t for t in vm.tags if t.startswith("ec2:type=")) for vm in vms}
    assert all((vm.vcpus, vm.memory_bytes) == expected[types[vm.id]] for vm in vms)
    assert Counter(types.values()) == {"ec2:type=m5.large": 540, "ec2:type=t3.micro": 540}
    assert all(vm.state is VMState.RUNNING and vm.addresses for vm in vms)
    assert {vm.host for vm in vms} <= {h.name for h in hosts}
    assert {f"{p}:{r}a" for p, r in launched} <= {h.name for h in hosts}  # zones, empty or not
    assert all(h.datacenter in REGIONS for h in hosts)
    assert all(h.name.startswith(("alpha:", "beta:")) for h in hosts)
    one = next(vm for vm in vms if vm.id.startswith("beta:ap-southeast-2:"))
    assert one.host.startswith("beta:ap-southeast-2") and "ec2:type=" in " ".join(one.tags)
    pages = backend.clients.count.operations["ec2.DescribeInstances"]
    assert pages == 12  # 6 pairs x 2 pages
    assert backend.clients.count.operations["ec2.DescribeInstanceTypes"] >= 1


async def test_states_tags_and_sizes_as_ec2_reports_them(aws_world: AwsWorld) -> None:
    running = aws_world.run(1, instance_type="m5.large", tags={"Name": "web\u202e-01", "env": "prod"})
    stopped = aws_world.run(1, instance_type="t3.micro")
    aws_world.ec2().stop_instances(InstanceIds=stopped)
    aws = registry.kind("aws").open(registry.kind("aws").config(
        name="aws-prod", profiles=["alpha"], regions=["eu-west-1"]), read_only=True)
    try:
        vms = {vm.id.rpartition(":")[2]: vm for vm in await aws.vms()}
    finally:
        await aws.close()
    web = vms[running[0]]
    assert web.name == "web\N{REPLACEMENT CHARACTER}-01"  # the escape never reaches a screen
    assert web.id == f"alpha:eu-west-1:{running[0]}" and web.backend == "aws-prod"
    assert (web.vcpus, web.memory_bytes) == (2, 8 * 2**30)
    assert "env=prod" in web.tags and web.host == "eu-west-1a"
    assert vms[stopped[0]].state is VMState.STOPPED
    assert (vms[stopped[0]].vcpus, vms[stopped[0]].memory_bytes) == (2, 2**30)


async def test_terminated_instances_are_shown_stopped_then_fade_out(aws_world: AwsWorld) -> None:
    keep, gone = aws_world.run(2)
    aws_world.ec2().terminate_instances(InstanceIds=[gone])
    now = [0.0]
    aws = AwsBackend("aws", profiles=["alpha"], regions=["eu-west-1"],
                     clock=lambda: time.time() + now[0])
    try:
        first = {vm.id.rpartition(":")[2]: vm for vm in await aws.vms()}
        assert first[gone].state is VMState.STOPPED and "ec2:state=terminated" in first[gone].tags
        now[0] = TERMINATED_SHOWN_S + 60
        later = {vm.id.rpartition(":")[2] for vm in await aws.vms()}
        assert later == {keep}
    finally:
        await aws.close()


async def test_all_regions_means_every_enabled_region(aws_world: AwsWorld) -> None:
    far = aws_world.run(1, region="sa-east-1")
    aws = AwsBackend("aws", profiles=["alpha"], regions="all", max_concurrency=8)
    try:
        vms = await aws.vms()
        enabled = aws_world.ec2().describe_regions()["Regions"]
        assert [vm.id for vm in vms] == [f"alpha:sa-east-1:{far[0]}"]
        assert aws.clients.count.operations["ec2.DescribeInstances"] == len(enabled)
    finally:
        await aws.close()


async def test_the_config_files_services_section_is_the_endpoint(
        aws_world: AwsWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    """No AWS_ENDPOINT_URL: botocore itself reads `services` from the profile."""
    ids = aws_world.run(2, profile="beta")
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    aws_world.write_files(f"[services local]\nec2 =\n  endpoint_url = {aws_world.url}\n")
    config = (aws_world.dir / "config").read_text().replace(
        "[profile beta]\n", "[profile beta]\nservices = local\n")
    (aws_world.dir / "config").write_text(config)
    aws = AwsBackend("aws", profiles=["beta"], regions=["eu-west-1"])
    try:
        assert sorted(vm.id.rpartition(":")[2] for vm in await aws.vms()) == sorted(ids)
    finally:
        await aws.close()


async def test_capacity_counts_running_standard_vcpus_and_says_when_the_quota_is_unknown(
        aws_world: AwsWorld) -> None:
    """moto's Service Quotas knows only VPC quotas: the EC2 vCPU quota stays unknown."""
    aws_world.run(3, instance_type="m5.xlarge")  # 4 vCPUs each
    stopped = aws_world.run(2, instance_type="m5.large")
    aws_world.ec2().stop_instances(InstanceIds=stopped)
    aws_world.run(1, region="us-east-1", instance_type="p3.2xlarge")  # not a standard family
    aws = AwsBackend("aws", profiles=["alpha"], regions=["eu-west-1", "us-east-1"])
    try:
        found = {c.region: c for c in await aws.capacity()}
    finally:
        await aws.close()
    assert found["eu-west-1"].running_vcpus == 12
    assert found["us-east-1"].running_vcpus == 0
    assert found["eu-west-1"].quota_vcpus is None and found["eu-west-1"].headroom is None
    assert "NoSuchResource" in found["eu-west-1"].note


async def test_the_sources_chunked_parsing_reads_what_botocores_own_reads(
        aws_world: AwsWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    """`backends.aws.parsing` feeds the XML in pieces and reads timestamps itself: the same
    answer as a plain boto3 client's, a piece boundary falling inside a multi-byte name."""
    from backends.aws import parsing

    monkeypatch.setattr(parsing, "CHUNK", 7)
    ids = aws_world.run(3, instance_type="t3.micro", tags={"Name": "größe-\u00e9\u4e2d", "k": "v"})
    aws = AwsBackend("aws", profiles=["alpha"], regions=["eu-west-1"])
    try:
        ours = await aws._api("ec2", "alpha", "eu-west-1", "describe_instances", InstanceIds=ids)
        client = aws.clients.client("ec2", "alpha", "eu-west-1")
        assert isinstance(client._endpoint._response_parser_factory, parsing.ParserFactory)
        assert "EC2QueryParser" in {cls.__name__ for cls in parsing._OURS}  # it parsed
    finally:
        await aws.close()
    plain = aws_world.ec2().describe_instances(InstanceIds=ids)
    assert ours["Reservations"] == plain["Reservations"]
    launched = ours["Reservations"][0]["Instances"][0]["LaunchTime"]
    assert launched.utcoffset() is not None and abs(launched.timestamp() - time.time()) < 3600
