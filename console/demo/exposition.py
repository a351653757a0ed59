"""The demo fleet's metrics as the real exporters name them, in two encodings: OpenMetrics with
timestamps (a history for `promtool tsdb create-blocks-from openmetrics`) and the plain text
format without (what Prometheus scrapes live from `exporter.py`).

Series and labels follow node_exporter (`node_cpu_seconds_total{cpu,mode}`,
`node_memory_*`) and prometheus-libvirt-exporter (`libvirt_domain_*{domain,uuid}`), with the
`instance` label naming the hypervisor and `job` as a scrape would set them, so the Prometheus
kind's default queries work unchanged, and scraped samples continue the backfilled series.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from console.demo.workload import DemoHost, DemoVM, Load

Value = Callable[[float], float]


@dataclass(frozen=True, slots=True)
class Family:
    """One metric family: its name (without `_total` for counters), type, help, series."""

    name: str
    type: str
    help: str
    series: tuple[tuple[str, Value], ...]
    """(rendered label set `{…}`, value at time t)."""

    @property
    def sample_name(self) -> str:
        return self.name + "_total" if self.type == "counter" else self.name


def _labels(**labels: str) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return "{" + inner + "}"


def _const(value: float) -> Value:
    return lambda _t: value


def _total(load: Load) -> Value:
    return load.total


def _host_families(hosts: Sequence[DemoHost]) -> list[Family]:
    up, cpus, total, available = [], [], [], []
    for host in hosts:
        node = dict(instance=host.name, job="node")
        up.append((_labels(instance=host.name, job="libvirt"), _const(1.0)))
        idle = _cached_idle(host)
        cpus += [(_labels(**node, cpu=str(cpu), mode="idle"), idle) for cpu in range(host.cpus)]
        total.append((_labels(**node), _const(float(host.memory_bytes))))
        available.append((_labels(**node), host.memory_available))
    return [
        Family("libvirt_up", "gauge", "Whether scraping libvirt's metrics was successful.",
               tuple(up)),
        Family("node_cpu_seconds", "counter", "Seconds the CPUs spent in each mode.", tuple(cpus)),
        Family("node_memory_MemTotal_bytes", "gauge", "Memory information field MemTotal_bytes.",
               tuple(total)),
        Family("node_memory_MemAvailable_bytes", "gauge",
               "Memory information field MemAvailable_bytes.", tuple(available)),
    ]


def _cached_idle(host: DemoHost) -> Value:
    """One CPU's idle counter, computed once per instant for all of the host's CPUs (the busy
    load sums every guest's waves: worth not repeating 64 times per instant)."""
    busy = host.busy
    memo: dict[float, float] = {}

    def idle(t: float) -> float:
        value = memo.get(t)
        if value is None:
            if len(memo) > 4096:  # a live exporter asks forever: stay bounded
                memo.clear()
            value = memo[t] = host.idle_seconds(t, busy)
        return value

    return idle


def _vm_families(vms: Sequence[DemoVM]) -> list[Family]:
    rows: dict[str, list[tuple[str, Value]]] = {}

    def add(name: str, labels: str, value: Value) -> None:
        rows.setdefault(name, []).append((labels, value))

    for vm in vms:
        if not vm.exported:
            continue
        base = dict(instance=vm.host, job="libvirt", domain=vm.name, uuid=vm.uuid)
        labels = _labels(**base)
        add("state", labels, _const(float(vm.state)))
        add("vcpus", labels, _const(float(vm.vcpus)))
        add("max_memory", labels, _const(float(vm.memory_bytes)))
        add("memory", labels, vm.memory_used)
        add("cpu", labels, _total(vm.cpu))
        disk = _labels(**base, target_device="vda")
        add("read", disk, _total(vm.disk_read))
        add("write", disk, _total(vm.disk_write))
        nic = _labels(**base, target_device="vnet0")
        add("rx", nic, _total(vm.net_rx))
        add("tx", nic, _total(vm.net_tx))
    spec = [
        ("state", "libvirt_domain_state_code", "gauge", "Code of the domain state."),
        ("vcpus", "libvirt_domain_info_virtual_cpus", "gauge", "Number of virtual CPUs."),
        ("max_memory", "libvirt_domain_info_maximum_memory_bytes", "gauge", "Maximum memory."),
        ("memory", "libvirt_domain_info_memory_usage_bytes", "gauge", "Memory in use."),
        ("cpu", "libvirt_domain_info_cpu_time_seconds", "counter", "CPU time spent."),
        ("read", "libvirt_domain_block_stats_read_bytes", "counter", "Bytes read from a disk."),
        ("write", "libvirt_domain_block_stats_write_bytes", "counter", "Bytes written to a disk."),
        ("rx", "libvirt_domain_interface_stats_receive_bytes", "counter", "Bytes received."),
        ("tx", "libvirt_domain_interface_stats_transmit_bytes", "counter", "Bytes transmitted."),
    ]
    return [Family(name, kind, text, tuple(rows.get(key, ()))) for key, name, kind, text in spec]


def families(hosts: Sequence[DemoHost]) -> list[Family]:
    """Every metric family of the demo fleet."""
    return _host_families(hosts) + _vm_families([vm for h in hosts for vm in h.vms])


def scrape_text(fams: Iterable[Family], t: float) -> str:
    """Prometheus' text format at instant `t` (no timestamps: the scrape time is used)."""
    lines: list[str] = []
    for fam in fams:
        lines.append(f"# HELP {fam.sample_name} {fam.help}")
        lines.append(f"# TYPE {fam.sample_name} {'counter' if fam.type == 'counter' else 'gauge'}")
        name = fam.sample_name
        lines += [f"{name}{labels} {value(t):.6f}" for labels, value in fam.series]
    return "\n".join(lines) + "\n"


def openmetrics_lines(fams: Iterable[Family], times: Sequence[float]) -> Iterator[str]:
    """OpenMetrics text for every series at each of `times` (seconds), ending with `# EOF`.

    Grouped by family, then series, then time: the order OpenMetrics requires and promtool
    reads fastest."""
    stamps = [f"{t:.3f}" for t in times]
    for fam in fams:
        yield f"# HELP {fam.name} {fam.help}\n# TYPE {fam.name} {fam.type}\n"
        name = fam.sample_name
        for labels, value in fam.series:
            prefix = f"{name}{labels} "
            yield "".join(f"{prefix}{value(t):.6f} {stamp}\n" for t, stamp in zip(times, stamps,
                                                                                   strict=True))
    yield "# EOF\n"
