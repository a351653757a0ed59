"""PromQL templates: defaults are batched, overrides are checked, matchers are escaped."""

from __future__ import annotations

import pytest

from backends.prometheus import Queries, matcher
from backends.prometheus.backend import PrometheusBackend
from backends.prometheus.queries import quote, seconds, window_for


def test_every_default_is_batched_by_host() -> None:
    q = Queries()
    for name in Queries.metric_names():
        text = q.build(name)
        assert "$" not in text and "by (instance" in text, (name, text)
        assert "{," not in text  # `{$match}` after another matcher keeps PromQL valid


def test_host_label_and_window_are_substituted() -> None:
    q = Queries(host_label="host", window="2m")
    assert q.build("vm_cpu_used") == (
        "sum by (host, uuid) (rate(libvirt_domain_info_cpu_time_seconds_total{}[2m]))")
    assert q.build("host_cpus", match=matcher(host="kvm-1")) == (
        'count by (host) (node_cpu_seconds_total{mode="idle",host="kvm-1"})')
    assert q.build("host_cpu_used", window="30s").endswith("[30s]))")


def test_overrides_are_checked_when_loaded() -> None:
    q = Queries().with_overrides(vm_state="max by ($host, domain, uuid) (my_state{$match})")
    assert q.build("vm_state") == "max by (instance, domain, uuid) (my_state{})"
    with pytest.raises(ValueError, match="unknown PromQL template"):
        Queries().with_overrides(vm_stat="x")
    with pytest.raises(ValueError, match="bad PromQL template"):
        Queries(vm_state="max by ($hots) (x)")
    with pytest.raises(ValueError, match="not a Prometheus label name"):
        Queries(host_label="host-name")
    with pytest.raises(ValueError, match="PromQL duration"):
        Queries(window="5 minutes")
    with pytest.raises(ValueError, match="no PromQL template"):
        Queries().build("window")


def test_the_backend_takes_overrides_as_a_mapping() -> None:
    b = PrometheusBackend("p", "http://127.0.0.1:1", queries={"host_up": "max by ($host) (up)"})
    assert b.queries.build("host_up") == "max by (instance) (up)"
    assert b.kind == "prometheus"


def test_matcher_escapes_values() -> None:
    assert quote('a"b\\c\nd') == '"a\\"b\\\\c\\nd"'
    assert matcher(uuid="u1", instance='x"y') == 'uuid="u1",instance="x\\"y"'
    with pytest.raises(ValueError):
        matcher(**{"bad-label": "x"})


def test_durations() -> None:
    assert seconds("5m") == 300 and seconds("1h30m") == 5400 and seconds("250ms") == 0.25
    assert window_for(0.2) == "1s" and window_for(90.4) == "90s"
    with pytest.raises(ValueError):
        seconds("5")
