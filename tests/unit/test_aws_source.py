"""The `aws` kind's config entry: what it accepts, and what it refuses with a fix to make."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from backends import registry
from backends.aws.clients import Clients, ClientSettings
from backends.aws.regions import closest, known_regions, region_problem
from backends.aws.source import AwsSource, Ec2Template


def test_the_kind_is_registered_with_a_valid_example() -> None:
    kind = registry.kind("aws")
    assert kind.config is AwsSource
    example = kind.config(**kind.example)
    assert example.profiles == ["prod"] and example.serves_metrics and example.lists_inventory


def test_defaults_are_the_aws_defaults() -> None:
    source = AwsSource()
    assert (source.profiles, source.regions, source.retry_mode, source.max_attempts) == (
        [], [], "standard", 3)
    assert source.endpoint_url is None


def test_all_regions_and_adaptive_retries() -> None:
    source = AwsSource(regions="all", retry_mode="adaptive", max_attempts=8)
    assert source.regions == "all" and source.retry_mode == "adaptive"


@pytest.mark.parametrize(("given", "says"), [
    ({"regions": ["eu-wset-1"]}, "did you mean 'eu-west-1'"),
    ({"regions": ["us-est-1"]}, "did you mean 'us-east-1' or 'us-west-1'"),
    ({"regions": ["moon"]}, "write a region name like 'eu-west-1'"),
    ({"regions": ["eu-west-1", "eu-west-1"]}, "listed twice"),
    ({"profiles": [""]}, "empty profile name"),
    ({"profiles": ["a", "a"]}, "listed twice"),
    ({"endpoint_url": "127.0.0.1:5000"}, "not an http(s) URL"),
    ({"retry_mode": "legacy"}, "'standard' or 'adaptive'"),
    ({"region": "eu-west-1"}, "Extra inputs are not permitted"),
])
def test_bad_entries_say_what_to_fix(given: dict[str, object], says: str) -> None:
    with pytest.raises(ValidationError) as caught:
        AwsSource(**given)
    assert says in str(caught.value)


def test_region_names_come_from_botocores_partition_data() -> None:
    regions = known_regions()
    assert {"eu-west-1", "us-east-1", "cn-north-1", "us-gov-west-1"} <= regions
    assert not any(r.endswith("-global") for r in regions)
    assert region_problem("ap-southeast-2") is None
    assert closest("eu-centrl-1", sorted(regions)) == ["eu-central-1"]


def test_validating_an_aws_entry_imports_no_sdk() -> None:
    """The region check reads botocore's data file without importing botocore."""
    code = textwrap.dedent("""
        import sys
        from backends import registry
        registry.kind("aws").config(regions=["eu-west-1"], profiles=["prod"])
        print(",".join(sorted(m for m in sys.modules if m.split(".")[0] in ("boto3", "botocore"))))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_the_retry_mode_and_timeouts_reach_botocore() -> None:
    clients = Clients(["prod"], ClientSettings(retry_mode="adaptive", max_attempts=8,
                                               connect_timeout_s=2, read_timeout_s=9))
    config = clients.config()
    assert config.retries == {"mode": "adaptive", "total_max_attempts": 8}
    assert (config.connect_timeout, config.read_timeout) == (2, 9)
    assert clients.config(single_attempt=True).retries["total_max_attempts"] == 1


def test_an_ec2_template_names_what_is_wrong_with_each_id() -> None:
    good = Ec2Template(ami="ami-0abcdef1234567890", instance_type="m5.large")
    assert (good.subnet, good.security_groups, good.key_name) == ("", [], "")
    for fields, said in (({"ami": "ubuntu"}, "ami: 'ubuntu' is not an AMI id"),
                         ({"instance_type": "large"}, "is not an instance type"),
                         ({"subnet": "default"}, "is not a subnet id"),
                         ({"security_groups": ["web"]}, "web is not a group id"),
                         ({"region": "eu-wset-1"}, "did you mean 'eu-west-1'")):
        with pytest.raises(ValidationError) as caught:
            Ec2Template(**{"ami": "ami-0abcdef1234567890", "instance_type": "m5.large", **fields})
        assert said in str(caught.value)
