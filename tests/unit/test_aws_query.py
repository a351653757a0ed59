"""The inventory filter's `backend:<kind>` and `region:` terms, over VMs as the AWS backend
lists them beside a libvirt host's."""

from __future__ import annotations

from console.fleet.query import filter_vms, parse
from console.models import VM, VMState

VMS = [
    VM("prod:eu-west-1:i-1", "web", VMState.RUNNING, "eu-west-1a", "cloud-prod",
       tags=("env=prod", "ec2:region=eu-west-1", "ec2:type=m5.large")),
    VM("prod:us-east-1:i-2", "batch", VMState.RUNNING, "us-east-1b", "cloud-prod",
       tags=("ec2:region=us-east-1",)),
    VM("6f1c0b8e", "db", VMState.RUNNING, "kvm-fra-01", "kvm-fra-01", tags=("region=fra",)),
]
KINDS = {"cloud-prod": "aws", "kvm-fra-01": "libvirt"}


def names(query: str) -> list[str]:
    return [vm.name for vm in filter_vms(VMS, query, KINDS)]


def test_backend_matches_the_kind_or_the_source_name() -> None:
    assert names("backend:aws") == ["web", "batch"]
    assert names("backend:libvirt") == ["db"]
    assert names("backend:cloud") == ["web", "batch"]
    assert names("-backend:aws") == ["db"]
    assert [vm.name for vm in filter_vms(VMS, "backend:aws")] == []  # no kinds given


def test_region_reads_the_region_tag_plain_or_namespaced() -> None:
    assert names("region:eu-west-1") == ["web"]
    assert names("region:us") == ["batch"]
    assert names("region:fra") == ["db"]
    assert names("-region:eu-west-1 backend:aws") == ["batch"]
    assert parse("region:eu-west-1")[0].field == "region"
