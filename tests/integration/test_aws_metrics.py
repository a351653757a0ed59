"""CloudWatch through the AWS backend: series seeded with PutMetricData into AWS/EC2 on moto's
server and read back through `series()` / `samples()`, with the calls counted."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from backends import registry
from backends.aws.backend import AwsBackend
from backends.base import SupportsMetrics

from .aws_fixture import AwsWorld

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def seed(world: AwsWorld, instance_id: str, metric: str, values: list[float], *,
         step_s: int = 300, profile: str = "alpha", region: str = "eu-west-1") -> list[float]:
    """`values` as one point per `step_s` ending now (oldest first); their unix times."""
    now = int(time.time()) // step_s * step_s
    times = [now - step_s * (len(values) - 1 - n) for n in range(len(values))]
    world.client("cloudwatch", profile, region).put_metric_data(Namespace="AWS/EC2", MetricData=[
        {"MetricName": metric, "Dimensions": [{"Name": "InstanceId", "Value": instance_id}],
         "Timestamp": dt.datetime.fromtimestamp(t, dt.UTC), "Value": v,
         "Unit": "Percent" if metric == "CPUUtilization" else "Bytes"}
        for t, v in zip(times, values, strict=True)])
    return [float(t) for t in times]


async def test_cpu_and_network_series_come_back_from_cloudwatch(aws_world: AwsWorld) -> None:
    (iid,) = aws_world.run(1, instance_type="m5.xlarge")  # 4 vCPUs
    times = seed(aws_world, iid, "CPUUtilization", [10.0, 50.0, 75.0, 100.0])
    seed(aws_world, iid, "NetworkIn", [3000.0, 6000.0])
    seed(aws_world, iid, "NetworkOut", [300.0, 600.0])
    aws = registry.kind("aws").open(registry.kind("aws").config(
        name="aws", profiles=["alpha"], regions=["eu-west-1"]), read_only=True)
    assert isinstance(aws, SupportsMetrics) and isinstance(aws, AwsBackend)
    try:
        target = f"vm:aws/alpha:eu-west-1:{iid}"
        cpu = await aws.series(target, "cpu", 3600)
        net = await aws.series(target, "net", 3600)
        memory = await aws.series(target, "memory", 3600)
    finally:
        await aws.close()
    assert cpu == [(t, v) for t, v in zip(times, [0.4, 2.0, 3.0, 4.0], strict=True)]  # cores
    assert net == [(times[-2], 3300.0 / 300), (times[-1], 6600.0 / 300)]  # bytes/s, both ways
    assert memory == []  # EC2 publishes no memory figure
    assert aws.metrics_label == "CloudWatch, 5-minute basic monitoring"
    assert aws.metrics_budget.calls == 2 and aws.metrics_budget.metrics == 3


async def test_samples_batch_every_running_instance_and_are_cached(aws_world: AwsWorld) -> None:
    ids = aws_world.run(3, instance_type="m5.large")  # 2 vCPUs
    for n, iid in enumerate(ids):
        seed(aws_world, iid, "CPUUtilization", [5.0, 25.0 * (n + 1)])
    aws = AwsBackend("aws", profiles=["alpha"], regions=["eu-west-1"])
    try:
        await aws.vms()
        first = await aws.samples()
        again = await aws.samples()
    finally:
        await aws.close()
    by_vm = {s.target.rpartition(":")[2]: s.value for s in first}
    assert by_vm == {iid: 0.5 * (n + 1) for n, iid in enumerate(ids)}
    assert again == first
    assert aws.metrics_budget.calls == 1 and aws.metrics_budget.metrics == 3
