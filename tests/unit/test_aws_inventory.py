"""EC2 records as console models, and the small rules around them (pure functions)."""

from __future__ import annotations

import datetime as dt

import pytest

from backends.aws.capacity import RegionCapacity
from backends.aws.ids import InstanceRef, parse_ref
from backends.aws.inventory import (
    TERMINATED_SHOWN_S,
    Fading,
    TypeSize,
    counts_for_quota,
    vm_from_instance,
)
from backends.aws.metrics import MetricsMixin, aligned
from console.errors import NovaError
from console.models import VMState

SIZES = {"m5.large": TypeSize(2, 8 * 2**30)}
REF = InstanceRef("prod", "eu-west-1", "i-0abc")


def instance(state: str = "running", **extra: object) -> dict[str, object]:
    return {"InstanceId": "i-0abc", "InstanceType": "m5.large", "State": {"Name": state},
            "Placement": {"AvailabilityZone": "eu-west-1b"}, **extra}


@pytest.mark.parametrize(("ec2", "console", "tag"), [
    ("pending", VMState.PENDING, "ec2:state=pending"),
    ("running", VMState.RUNNING, None),
    ("stopping", VMState.PENDING, "ec2:state=stopping"),
    ("stopped", VMState.STOPPED, None),
    ("shutting-down", VMState.PENDING, "ec2:state=shutting-down"),
    ("terminated", VMState.STOPPED, "ec2:state=terminated"),
])
def test_the_six_ec2_states(ec2: str, console: VMState, tag: str | None) -> None:
    vm = vm_from_instance(instance(ec2), ref=REF, backend="aws", sizes=SIZES,
                          several_profiles=False)
    assert vm.state is console
    assert (tag in vm.tags) if tag else not any(t.startswith("ec2:state=") for t in vm.tags)


def test_dedicated_host_cpu_options_and_profile_prefixed_zone() -> None:
    vm = vm_from_instance(instance(Placement={"AvailabilityZone": "eu-west-1b", "HostId": "h-01"},
                                   CpuOptions={"CoreCount": 1, "ThreadsPerCore": 1},
                                   InstanceLifecycle="spot"),
                          ref=REF, backend="aws", sizes=SIZES, several_profiles=True)
    assert vm.host == "prod:h-01" and vm.vcpus == 1 and vm.memory_bytes == 8 * 2**30
    assert "ec2:lifecycle=spot" in vm.tags and vm.id == "prod:eu-west-1:i-0abc"


def test_terminated_instances_fade_after_the_time_they_ended() -> None:
    fading = Fading()
    ended = dt.datetime(2026, 12, 1, 8, 0, 0, tzinfo=dt.UTC).timestamp()
    said = instance("terminated", StateTransitionReason="User initiated (2026-12-01 08:00:00 GMT)")
    assert fading.keep(said, ended + TERMINATED_SHOWN_S - 1)
    assert not fading.keep(said, ended + TERMINATED_SHOWN_S + 1)
    silent = instance("terminated")
    assert fading.keep(silent, 1000.0)  # first seen now
    assert fading.keep(silent, 1000.0 + TERMINATED_SHOWN_S)
    assert not fading.keep(silent, 1001.0 + TERMINATED_SHOWN_S)
    assert fading.keep(instance("running"), 10**12)


def test_the_quota_counts_running_on_demand_standard_families_only() -> None:
    assert counts_for_quota(instance())
    assert not counts_for_quota(instance("stopped"))
    assert not counts_for_quota(instance(InstanceLifecycle="spot"))
    assert not counts_for_quota(instance(InstanceType="p3.2xlarge"))
    assert RegionCapacity("p", "r", 10, 32.0).headroom == 22.0
    assert RegionCapacity("p", "r", 10, None).headroom is None


def test_ids_route_to_profile_region_and_instance() -> None:
    assert parse_ref("prod:eu-west-1:i-0abc") == REF
    assert parse_ref("team:a:eu-west-1:i-0abc").profile == "team:a"
    assert parse_ref("i-0abc", {"i-0abc": REF}) == REF
    with pytest.raises(NovaError, match="<profile>:<region>:<instance-id>"):
        parse_ref("i-0abc")


def test_cloudwatch_windows_fall_on_period_boundaries() -> None:
    assert aligned(1000.0, 600, 300) == (300, 1200.0)


def test_the_label_says_basic_or_detailed_monitoring() -> None:
    class Source(MetricsMixin):
        pass

    source = Source()
    source._init_metrics()
    assert source.metrics_label.startswith("CloudWatch, 5-minute basic monitoring; fleet CPU "
                                           "every 5 min; 0 GetMetricData calls")
    source.monitoring = {"i-1": "enabled"}
    assert source.metrics_label.startswith("CloudWatch, 1-minute detailed monitoring;")
    source.monitoring = {"i-1": "enabled", "i-2": "disabled"}
    assert "5-minute basic" in source.metrics_label and "1-minute" in source.metrics_label
