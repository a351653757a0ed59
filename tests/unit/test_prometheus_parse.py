"""Pure parsing of Prometheus API answers into models (no server involved)."""

from __future__ import annotations

import math

import pytest

from backends.prometheus import parse
from console.models import HostState, VMState
from console.sanitize import REPLACEMENT


def item(value: object, **labels: str) -> dict[str, object]:
    return {"metric": labels, "value": [1700000000.5, str(value)]}


def test_vector_returns_labels_and_float_values() -> None:
    got = parse.vector([item(4, instance="kvm-1", uuid="u1"), item("NaN", instance="kvm-2")])
    assert got[0] == ({"instance": "kvm-1", "uuid": "u1"}, 4.0)
    assert math.isnan(got[1][1])


@pytest.mark.parametrize("result", [
    {"resultType": "vector"},  # not a list
    [1, "2"],  # a scalar's result
    [{"metric": {}}],  # no value
    [{"value": [1, "1"]}],  # no metric
    [{"metric": "x", "value": [1, "1"]}],  # metric not an object
    [{"metric": {}, "value": [1, "one"]}],  # value not a number
    [{"metric": {}, "value": [1]}],  # value too short
])
def test_vector_rejects_what_the_api_never_sends(result: object) -> None:
    with pytest.raises(parse.MalformedResponse):
        parse.vector(result)


def test_matrix_and_series() -> None:
    raw = [{"metric": {"uuid": "u1", "instance": "kvm-1"}, "values": [[10, "1"], [20, "2.5"]]},
           {"metric": {"instance": "kvm-2"}, "values": []}]
    lines = parse.series(parse.matrix(raw), host_label="instance")
    assert [line.target for line in lines] == ["u1", "kvm-2"]
    assert lines[0].points == ((10.0, 1.0), (20.0, 2.5))
    assert lines[0].labels == (("instance", "kvm-1"), ("uuid", "u1"))
    with pytest.raises(parse.MalformedResponse):
        parse.matrix([{"metric": {}, "values": [[1, "x"]]}])
    with pytest.raises(parse.MalformedResponse):
        parse.matrix([{"metric": {}, "value": [1, "1"]}])


@pytest.mark.parametrize(("code", "state"), [
    (0, VMState.UNKNOWN), (1, VMState.RUNNING), (2, VMState.RUNNING), (3, VMState.PAUSED),
    (4, VMState.RUNNING), (5, VMState.STOPPED), (6, VMState.CRASHED), (7, VMState.SUSPENDED),
    (8, VMState.UNKNOWN), (-1, VMState.UNKNOWN), (math.nan, VMState.UNKNOWN),
])
def test_libvirt_state_codes(code: float, state: VMState) -> None:
    assert parse.state_from_code(code) is state


def test_build_hosts_joins_capacity_by_host_label() -> None:
    hosts = parse.build_hosts(
        backend="prom", host_label="instance",
        up=[({"instance": "kvm-2"}, 0.0), ({"instance": "kvm-1"}, 1.0), ({}, 1.0)],
        cpus=[({"instance": "kvm-1"}, 32.0)],
        memory=[({"instance": "kvm-1"}, 2.0**40), ({"instance": "node-only"}, 1.0)],
        available=[({"instance": "kvm-1"}, 2.0**30)],
        cpu_used=[({"instance": "kvm-1"}, 8.0), ({"instance": "kvm-2"}, 3.0)],
    )
    assert [h.name for h in hosts] == ["kvm-1", "kvm-2"]  # no host label: skipped
    one, two = hosts
    assert (one.id, one.backend, one.state, one.cpus) == ("kvm-1", "prom", HostState.UP, 32)
    assert (one.memory_bytes, one.free_memory_bytes) == (2**40, 2**30)
    assert one.cpu_usage == 0.25  # 8 of 32 cores busy, as Prometheus' rate says
    assert (two.state, two.cpus, two.memory_bytes, two.free_memory_bytes) == (
        HostState.DOWN, 0, 0, None)
    assert two.cpu_usage is None  # CPU count unknown: no fraction


def test_build_vms_joins_on_host_and_uuid_and_cleans_labels() -> None:
    evil = "db\x1b]0;pwned\x07\u202e01"
    vms = parse.build_vms(
        backend="prom", host_label="instance",
        state=[({"instance": "kvm-1", "domain": evil, "uuid": "u1"}, 1.0),
               ({"instance": "kvm-1", "domain": "web", "uuid": "u2"}, 3.0),
               ({"instance": "kvm-1", "domain": "nouuid"}, 1.0)],
        vcpus=[({"instance": "kvm-1", "uuid": "u1"}, 4.0), ({"instance": "kvm-9", "uuid": "u2"}, 8.0)],
        memory=[({"instance": "kvm-1", "uuid": "u1"}, 2.0**31)],
        cpu_used=[({"instance": "kvm-1", "uuid": "u1"}, 1.5), ({"instance": "kvm-1", "uuid": "u2"},
                                                              math.nan)],
    )
    assert [v.id for v in vms] == ["u1", "u2"]
    db, web = vms
    assert db.name == f"db{REPLACEMENT}]0;pwned{REPLACEMENT}{REPLACEMENT}01"
    assert (db.host, db.backend, db.state, db.vcpus, db.memory_bytes, db.tags) == (
        "kvm-1", "prom", VMState.RUNNING, 4, 2**31, ())
    assert (web.state, web.vcpus, web.memory_bytes) == (VMState.PAUSED, 0, 0)  # other host's
    assert (db.cpu_used_cores, web.cpu_used_cores) == (1.5, None)  # NaN: no rate


def test_a_vm_seen_on_two_hosts_is_listed_once_where_it_runs() -> None:
    """Mid-migration both hosts export the domain: paused on one, running on the other."""
    state = [({"instance": "src", "domain": "vm", "uuid": "u"}, 3.0),
             ({"instance": "dst", "domain": "vm", "uuid": "u"}, 1.0),
             ({"instance": "old", "domain": "vm", "uuid": "u"}, 5.0)]
    cpu = [({"instance": "src", "uuid": "u"}, 0.0), ({"instance": "dst", "uuid": "u"}, 0.75)]
    vms = parse.build_vms(backend="p", host_label="instance", state=state, vcpus=[], memory=[],
                          cpu_used=cpu)
    assert [(v.host, v.state, v.cpu_used_cores) for v in vms] == [("dst", VMState.RUNNING, 0.75)]


def test_fast_clean_agrees_with_clean() -> None:
    from console.sanitize import clean
    for text in ["plain-name_01", "tab\there", "ünïcode", "bidi\u202ex", "x" * 300, "a\x7fb",
                 "e\u0301"]:
        assert parse.fast_clean(text) == clean(text)


def test_usage_rows() -> None:
    hosts = parse.host_usage(
        host_label="instance", cpus=[({"instance": "a"}, 8.0)],
        cpu_used=[({"instance": "a"}, 2.0), ({"instance": "b"}, math.nan)],
        memory=[({"instance": "a"}, 100.0)], memory_used=[({"instance": "a"}, 40.0)])
    assert [(h.host, h.cpus, h.cpu_used, h.memory_bytes, h.memory_used_bytes) for h in hosts] == [
        ("a", 8, 2.0, 100, 40), ("b", 0, None, 0, None)]
    assert hosts[0].cpu_ratio == 0.25 and hosts[1].cpu_ratio is None
    vms = parse.vm_usage(host_label="instance",
                         cpu_used=[({"instance": "a", "uuid": "u1"}, 0.5)],
                         memory_used=[({"instance": "a", "uuid": "u2"}, 1024.0)])
    assert [(v.vm_id, v.host, v.cpu_used, v.memory_used_bytes) for v in vms] == [
        ("u1", "a", 0.5, None), ("u2", "a", None, 1024)]


def test_samples_name_their_target() -> None:
    got = parse.samples([({"uuid": "u1", "instance": "a"}, 1.5), ({"instance": "b"}, 2.0),
                         ({"job": "x"}, 3.0)], metric="vm_cpu_used", timestamp=5.0,
                        host_label="instance")
    assert [s.target for s in got] == ["u1", "b", "job=x"]
    assert got[0].labels == (("instance", "a"), ("uuid", "u1"))
    assert (got[0].metric, got[0].timestamp, got[0].value) == ("vm_cpu_used", 5.0, 1.5)


ALERTS = {"alerts": [
    {"labels": {"alertname": "VMCrashed", "severity": "warning", "instance": "kvm-1",
                "uuid": "u1", "domain": "db\x1b[2J"},
     "annotations": {"summary": "db crashed", "description": "state 6"},
     "state": "firing", "activeAt": "2026-11-27T05:46:25.778387408Z", "value": "6e+00"},
    {"labels": {"alertname": "HostDown", "severity": "critical", "instance": "kvm-2"},
     "annotations": {}, "state": "firing", "activeAt": "garbage", "value": "NaN"},
    {"labels": {"alertname": "Soon"}, "state": "pending", "activeAt": "2026-11-27T05:00:00Z"},
]}


def test_alerts_firing_first_critical_linked_to_host_and_vm() -> None:
    got = parse.alerts(ALERTS, source="prom", host_label="instance")
    assert [a.name for a in got] == ["HostDown", "VMCrashed"]
    down, crashed = got
    assert (down.host, down.severity, down.active_since, down.value) == (
        "kvm-2", "critical", None, None)
    assert (crashed.host, crashed.vm_id, crashed.vm_name) == ("kvm-1", "u1", f"db{REPLACEMENT}[2J")
    assert (crashed.summary, crashed.description, crashed.value) == ("db crashed", "state 6", 6.0)
    assert crashed.active_since == pytest.approx(1795758385.778387)
    assert ("alertname", "VMCrashed") not in crashed.labels
    assert crashed.source == "prom" and crashed.state == "firing"


def test_alerts_pending_on_request_and_malformed_rejected() -> None:
    got = parse.alerts(ALERTS, source="p", host_label="instance", include_pending=True)
    assert [a.name for a in got if a.state == "pending"] == ["Soon"]
    for bad in ({}, {"alerts": {}}, {"alerts": [1]}, {"alerts": [{"labels": "x"}]}, []):
        with pytest.raises(parse.MalformedResponse):
            parse.alerts(bad, source="p", host_label="instance")
