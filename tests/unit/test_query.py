"""The inventory filter language and sort, as an operator types it."""

from __future__ import annotations

import pytest

from console.fleet.query import filter_vms, matcher, parse, sort_vms
from console.models import VM, VMState


def vm(name: str, state: VMState = VMState.RUNNING, host: str = "kvm-fra-01", *,
       tags: tuple[str, ...] = (), vcpus: int = 2, memory: int = 2**30, backend: str = "",
       addresses: tuple[str, ...] = (), stale: bool = False) -> VM:
    return VM(id=f"id-{name}", name=name, state=state, host=host, backend=backend or host,
              vcpus=vcpus, memory_bytes=memory, tags=tags, addresses=addresses, stale=stale)


FLEET = [
    vm("web-prod-01", tags=("env=prod", "role=web"), vcpus=4, memory=8 * 2**30,
       addresses=("10.0.0.11",)),
    vm("web-staging-02", VMState.STOPPED, "kvm-ams-01", tags=("env=staging", "role=web")),
    vm("pg-prod-01", VMState.PAUSED, "kvm-fra-02", tags=("env=prod", "role=pg"), vcpus=8,
       memory=32 * 2**30),
    vm("Kafka-Prod-02", VMState.CRASHED, "kvm-ams-02", tags=("env=prod", "role=kafka"),
       vcpus=16, stale=True),
]


def names(query: str) -> list[str]:
    return [v.name for v in filter_vms(FLEET, query)]


@pytest.mark.parametrize(("query", "expected"), [
    ("", ["web-prod-01", "web-staging-02", "pg-prod-01", "Kafka-Prod-02"]),
    ("web", ["web-prod-01", "web-staging-02"]),
    ("KAFKA", ["Kafka-Prod-02"]),  # case-insensitive
    ("prod web", ["web-prod-01"]),  # every word must match
    ("ams", ["web-staging-02", "Kafka-Prod-02"]),  # a fragment of the host
    ("10.0.0.1", ["web-prod-01"]),  # a fragment of an address
    ("role=pg", ["pg-prod-01"]),  # a plain word also searches tags
    ("tag:env=prod", ["web-prod-01", "pg-prod-01", "Kafka-Prod-02"]),
    ("tag:role=web tag:env=staging", ["web-staging-02"]),
    ("host:kvm-fra", ["web-prod-01", "pg-prod-01"]),
    ("HOST:KVM-AMS-02", ["Kafka-Prod-02"]),
    ("state:running", ["web-prod-01"]),
    ("state:stop", ["web-staging-02"]),  # a prefix of the state
    ("state:stale", ["Kafka-Prod-02"]),
    ("ip:10.0.0", ["web-prod-01"]),
    ("name:prod", ["web-prod-01", "pg-prod-01", "Kafka-Prod-02"]),
    ("-web", ["pg-prod-01", "Kafka-Prod-02"]),
    ("tag:env=prod -state:running", ["pg-prod-01", "Kafka-Prod-02"]),
    ("-host:kvm-fra -tag:role=kafka", ["web-staging-02"]),
    ("nothing-like-this", []),
])
def test_filter(query: str, expected: list[str]) -> None:
    assert names(query) == expected


def test_field_term_does_not_leak_to_other_fields() -> None:
    """`host:web` looks at the host only, even though 'web' is in names and tags."""
    assert names("host:web") == []
    assert names("tag:fra") == []


def test_unknown_prefix_is_plain_text() -> None:
    terms = parse("color:blue")
    assert terms[0].field is None and terms[0].text == "color:blue"
    assert names("color:blue") == []


def test_lone_dash_and_empty_field_are_literal() -> None:
    assert [t.negate for t in parse("- tag:")] == [False, False]
    assert matcher("   ")(FLEET[0])


def test_sort_by_columns() -> None:
    assert [v.name for v in sort_vms(FLEET, "name")] == [
        "Kafka-Prod-02", "pg-prod-01", "web-prod-01", "web-staging-02"]
    assert [v.name for v in sort_vms(FLEET, "vcpus")] == [
        "web-staging-02", "web-prod-01", "pg-prod-01", "Kafka-Prod-02"]
    assert next(v.name for v in sort_vms(FLEET, "memory", reverse=True)) == "pg-prod-01"
    assert [v.state for v in sort_vms(FLEET, "state")] == [
        VMState.CRASHED, VMState.PAUSED, VMState.RUNNING, VMState.STOPPED]
    assert [v.host for v in sort_vms(FLEET, "host")] == [
        "kvm-ams-01", "kvm-ams-02", "kvm-fra-01", "kvm-fra-02"]


def test_sort_ties_break_by_name_and_unknown_column_sorts_by_name() -> None:
    twins = [vm("b", vcpus=2), vm("a", vcpus=2), vm("c", vcpus=1)]
    assert [v.name for v in sort_vms(twins, "vcpus")] == ["c", "a", "b"]
    assert [v.name for v in sort_vms(twins, "no-such-column")] == ["a", "b", "c"]
