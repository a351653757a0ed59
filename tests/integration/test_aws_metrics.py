"""CloudWatch through the AWS backend: series seeded with PutMetricData into AWS/EC2 on moto's
server and read back through `series()` / `samples()`, with the calls counted."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from backends import registry
from backends.aws.backend import AwsBackend
from backends.base import SupportsMetrics
from console.app import NovaApp
from console.config import Context
from console.fleet.metrics_feed import MetricsFeed
from console.fleet.polling import Fleet
from console.fleet.sources import build_backends, build_metrics
from screens.inventory import InventoryScreen
from screens.metrics import MetricsScreen
from tests import wait_for

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
    assert aws.metrics_label == ("CloudWatch, 5-minute basic monitoring; fleet CPU every 5 min; "
                                 "2 GetMetricData calls, 3 metrics requested so far (billed per "
                                 "1,000 metrics)")
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


def alarm(world: AwsWorld, name: str, *, region: str = "eu-west-1", instance_id: str = "",
          description: str = "", state: str = "ALARM", reason: str = "test") -> None:
    cw = world.client("cloudwatch", "alpha", region)
    cw.put_metric_alarm(
        AlarmName=name, AlarmDescription=description, Namespace="AWS/EC2",
        MetricName="CPUUtilization", Statistic="Average", Period=300, EvaluationPeriods=1,
        Threshold=80.0, ComparisonOperator="GreaterThanThreshold",
        Dimensions=[{"Name": "InstanceId", "Value": instance_id}] if instance_id else [])
    cw.set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)


async def test_alarms_in_state_alarm_are_firing_alerts_linked_to_their_instance(
        aws_world: AwsWorld) -> None:
    (web,) = aws_world.run(1, tags={"Name": "web"})
    (db,) = aws_world.run(1, tags={"Name": "db"})
    alarm(aws_world, "web-cpu-high", instance_id=web, description="CPU above 80% on web",
          reason="Threshold Crossed: 1 datapoint [93.0] was greater than 80.0")
    alarm(aws_world, "db-cpu-high", instance_id=db, state="OK")  # not firing
    alarm(aws_world, "queue critical", region="us-east-1", reason="depth 10000")
    aws = AwsBackend("aws", profiles=["alpha"], regions=["eu-west-1", "us-east-1"])
    try:
        await aws.vms()
        alerts = {a.name: a for a in await aws.alerts()}
    finally:
        await aws.close()
    assert set(alerts) == {"web-cpu-high", "queue critical"}
    cpu = alerts["web-cpu-high"]
    assert (cpu.state, cpu.severity, cpu.source) == ("firing", "warning", "aws")
    assert (cpu.vm_id, cpu.vm_name, cpu.host) == (f"alpha:eu-west-1:{web}", "web", "eu-west-1a")
    assert cpu.summary == "CPU above 80% on web" and "[93.0]" in cpu.description
    assert ("region", "eu-west-1") in cpu.labels and ("InstanceId", web) in cpu.labels
    queue = alerts["queue critical"]
    assert (queue.severity, queue.vm_id, queue.summary) == ("critical", "", "depth 10000")


async def test_the_console_shows_alarms_and_cloudwatch_cpu_in_the_inventory_on_a_budget(
        aws_world: AwsWorld) -> None:
    """The fleet's AWS source lists; the metrics feed opens its own (as `novacron` does) and
    fills the inventory's CPU trend from one batched GetMetricData per 5 minutes."""
    ids = aws_world.run(3, instance_type="m5.large", tags={"Name": "api"})  # 2 vCPUs each
    for n, iid in enumerate(ids):
        seed(aws_world, iid, "CPUUtilization", [5.0, 20.0 * (n + 1)])
    alarm(aws_world, "api-cpu-high", instance_id=ids[2], reason="60 > 50")
    context = Context(backends=[registry.kind("aws").config(
        name="cloud", profiles=["alpha"], regions=["eu-west-1"])])
    metrics = build_metrics(context)
    (cloudwatch,) = metrics
    assert isinstance(cloudwatch, AwsBackend)
    app = NovaApp(Fleet("cloud", build_backends(context, read_only=False), interval_s=1.0),
                  metrics_feed=MetricsFeed(metrics))
    async with app.run_test(size=(160, 40)) as pilot:
        keys = [f"cloud/alpha:eu-west-1:{iid}" for iid in ids]
        await wait_for(pilot, lambda: all(len(app.metrics.tail(f"vm:{k}", "cpu", 8)) >= 3
                                          for k in keys), timeout_s=60, what="CPU trends")
        for n, key in enumerate(keys):
            trend = app.metrics.tail(f"vm:{key}", "cpu", 8)
            assert trend == pytest.approx([0.2 * (n + 1)] * len(trend))  # 20/40/60 % of 2 vCPUs
        screen = app.screen
        assert isinstance(screen, InventoryScreen)
        await wait_for(pilot, lambda: all((row := screen.table.row(k)) is not None
                                          and row.cells[-1].strip() for k in keys),
                       what="sparklines drawn")
        assert cloudwatch.metrics_budget.calls == 1  # one batch, then the 5-minute cache
        assert "1 GetMetricData calls, 3 metrics requested" in cloudwatch.metrics_label

        await wait_for(pilot, lambda: bool(app.alerts), timeout_s=30, what="the alarm")
        assert [a.name for a in app.alerts or ()] == ["api-cpu-high"]
        await pilot.press("4")
        await wait_for(pilot, lambda: isinstance(app.screen, MetricsScreen)
                       and app.screen.query_one("#alerts").row_count == 1, what="alerts table")


async def test_samples_of_501_instances_take_two_batched_calls(aws_world: AwsWorld) -> None:
    ids = aws_world.run(501, instance_type="t3.micro")
    seed(aws_world, ids[-1], "CPUUtilization", [50.0])  # in the second batch
    aws = AwsBackend("aws", profiles=["alpha"], regions=["eu-west-1"])
    try:
        await aws.vms()
        found = await aws.samples()
    finally:
        await aws.close()
    assert (aws.metrics_budget.calls, aws.metrics_budget.metrics) == (2, 501)  # 500 + 1
    assert [(s.target, s.value) for s in found] == [(f"alpha:eu-west-1:{ids[-1]}", 1.0)]
