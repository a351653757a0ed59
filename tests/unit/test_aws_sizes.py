"""The vCPU/memory → instance type mapping of EC2 create and resize (pure logic)."""

from __future__ import annotations

import pytest

from backends.aws.capacity import RegionCapacity
from backends.aws.inventory import TypeSize
from backends.aws.sizes import family_of, smallest_fit
from console.errors import Code, NovaError

GIB = 2**30
M5 = {"m5.large": TypeSize(2, 8 * GIB), "m5.xlarge": TypeSize(4, 16 * GIB),
      "m5.2xlarge": TypeSize(8, 32 * GIB), "m5.metal": TypeSize(96, 384 * GIB),
      "m5.24xlarge": TypeSize(96, 384 * GIB)}


@pytest.mark.parametrize(("vcpus", "memory", "expected"), [
    (1, None, "m5.large"),
    (2, 8 * GIB, "m5.large"),
    (3, None, "m5.xlarge"),
    (None, 9 * GIB, "m5.xlarge"),
    (4, 17 * GIB, "m5.2xlarge"),   # memory decides
    (96, None, "m5.24xlarge"),     # a tie in size: the name breaks it, stably
])
def test_the_smallest_type_of_the_family_that_fits(vcpus: int | None, memory: int | None,
                                                   expected: str) -> None:
    assert smallest_fit(M5, vcpus=vcpus, memory_bytes=memory) == expected


def test_nothing_big_enough_names_the_largest() -> None:
    with pytest.raises(NovaError) as caught:
        smallest_fit(M5, vcpus=128, memory_bytes=None)
    assert caught.value.kind is Code.INSUFFICIENT_RESOURCES
    assert "no m5 type has 128 vCPU" in str(caught.value) and "96 vCPU, 384 GiB" in str(caught.value)


def test_an_unknown_family_is_a_config_error() -> None:
    with pytest.raises(NovaError) as caught:
        smallest_fit({}, vcpus=2, memory_bytes=None)
    assert caught.value.kind is Code.CONFIG_INVALID
    assert family_of("c6g.medium") == "c6g"


def test_a_known_quota_is_said_with_what_is_free_or_over() -> None:
    assert RegionCapacity("prod", "eu-west-1", 12, 64.0).line() == "eu-west-1 12/64 vCPU (52 free)"
    assert RegionCapacity("prod", "eu-west-1", 70, 64.0).line(with_profile=True) == \
        "prod:eu-west-1 70/64 vCPU (6 over)"
    unknown = RegionCapacity("prod", "us-east-1", 4, None, "Service Quotas did not answer (x)")
    assert unknown.line() == "us-east-1 4/? vCPU: Service Quotas did not answer (x)"
