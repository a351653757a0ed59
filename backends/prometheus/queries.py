"""The PromQL the backend sends, one configurable template per metric.

Why templates: fleets differ in exporters and relabelling, so every query can be replaced from
the config, while the defaults work with node_exporter and the libvirt exporter
(prometheus-libvirt-exporter: series labelled `domain` and `uuid`; Prometheus adds `instance`).
Every default aggregates `by ($host)` or `by ($host, uuid)`: one query answers for the whole
fleet, never one query per host.

Placeholders (string.Template syntax, so PromQL's own braces need no escaping):

- `$host`: the label naming a hypervisor (default `instance`; relabel node_exporter's and the
  libvirt exporter's targets so both carry the same value, e.g. the hostname without port);
- `$match`: extra label matchers, empty for the whole fleet, e.g. `uuid="…"` for one VM's chart
  (each default ends its selectors with `{…,$match}`, which PromQL accepts when empty);
- `$window`: the `rate()` window, e.g. `5m`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from string import Template

_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_WINDOW = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")


@dataclass(frozen=True, slots=True)
class Queries:
    """One PromQL template per metric; override any of them from the config."""

    host_up: str = "max by ($host) (libvirt_up{$match})"
    """1 when the host's libvirt exporter reaches libvirtd. Its hosts are the inventory's."""
    host_cpus: str = 'count by ($host) (node_cpu_seconds_total{mode="idle",$match})'
    """Logical CPUs per host (node_exporter)."""
    host_memory: str = "max by ($host) (node_memory_MemTotal_bytes{$match})"
    host_memory_available: str = "max by ($host) (node_memory_MemAvailable_bytes{$match})"
    host_cpu_used: str = (
        'sum by ($host) (1 - rate(node_cpu_seconds_total{mode="idle",$match}[$window]))')
    """CPU cores busy per host (sum over CPUs of the non-idle fraction)."""
    host_memory_used: str = (
        "max by ($host) (node_memory_MemTotal_bytes{$match}"
        " - node_memory_MemAvailable_bytes{$match})")

    vm_state: str = "max by ($host, domain, uuid) (libvirt_domain_state_code{$match})"
    """libvirt's virDomainState per VM; this query names the VMs (its `domain` label)."""
    vm_vcpus: str = "max by ($host, uuid) (libvirt_domain_info_virtual_cpus{$match})"
    vm_memory: str = "max by ($host, uuid) (libvirt_domain_info_maximum_memory_bytes{$match})"
    vm_cpu_used: str = (
        "sum by ($host, uuid) (rate(libvirt_domain_info_cpu_time_seconds_total{$match}[$window]))")
    """CPU cores busy per VM."""
    vm_memory_used: str = "max by ($host, uuid) (libvirt_domain_info_memory_usage_bytes{$match})"
    vm_disk_read: str = (
        "sum by ($host, uuid) (rate(libvirt_domain_block_stats_read_bytes_total{$match}[$window]))")
    vm_disk_write: str = (
        "sum by ($host, uuid) (rate(libvirt_domain_block_stats_write_bytes_total{$match}[$window]))")
    vm_net_rx: str = (
        "sum by ($host, uuid) "
        "(rate(libvirt_domain_interface_stats_receive_bytes_total{$match}[$window]))")
    vm_net_tx: str = (
        "sum by ($host, uuid) "
        "(rate(libvirt_domain_interface_stats_transmit_bytes_total{$match}[$window]))")

    host_label: str = "instance"
    """The label that names a hypervisor in every series (see `$host`)."""
    window: str = "5m"
    """Default `rate()` window; at least four scrape intervals."""

    def __post_init__(self) -> None:
        if not _LABEL.match(self.host_label):
            raise ValueError(f"host_label {self.host_label!r} is not a Prometheus label name")
        if not _WINDOW.match(self.window):
            raise ValueError(f"window {self.window!r} is not a PromQL duration such as 5m")
        for name in self.metric_names():
            render(getattr(self, name), host=self.host_label)  # fail at load, not mid-incident

    @classmethod
    def metric_names(cls) -> tuple[str, ...]:
        """The names of the query templates (every field but the two settings)."""
        return tuple(f.name for f in fields(cls) if f.name not in ("host_label", "window"))

    def with_overrides(self, **overrides: str) -> Queries:
        """A copy with some templates replaced; unknown names are an error with the known ones."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"unknown PromQL template(s) {unknown}; known: {sorted(known)}")
        return replace(self, **overrides)

    def build(self, metric: str, *, match: str = "", window: str | None = None) -> str:
        """The PromQL for `metric` (a field name), filtered by `match`, over `window`."""
        if metric not in self.metric_names():
            raise ValueError(f"no PromQL template named {metric!r}")
        return render(getattr(self, metric), host=self.host_label, match=match,
                      window=window or self.window)


def render(template: str, *, host: str, match: str = "", window: str = "5m") -> str:
    """Fill a template's placeholders; a misspelt placeholder raises ValueError."""
    try:
        return Template(template).substitute(host=host, match=match, window=window)
    except (KeyError, ValueError) as exc:
        raise ValueError(f"bad PromQL template {template!r}: {exc}") from exc


def quote(value: str) -> str:
    """A PromQL string literal for `value` (escapes backslash, quote and newline)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def matcher(**labels: str) -> str:
    """Label matchers for `$match`, e.g. `matcher(uuid=vm.id)` → `uuid="…"`."""
    for name in labels:
        if not _LABEL.match(name):
            raise ValueError(f"{name!r} is not a Prometheus label name")
    return ",".join(f"{name}={quote(value)}" for name, value in labels.items())


def window_for(seconds: float) -> str:
    """A PromQL duration for a number of seconds (at least 1 s)."""
    return f"{max(1, round(seconds))}s"


_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


def seconds(duration: str) -> float:
    """A PromQL duration (`5m`, `1h30m`) in seconds."""
    if not _WINDOW.match(duration):
        raise ValueError(f"{duration!r} is not a PromQL duration")
    return sum(int(n) * _UNIT_S[u] for n, u in re.findall(r"([0-9]+)(ms|s|m|h|d|w|y)", duration))
