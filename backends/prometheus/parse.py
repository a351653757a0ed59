"""Pure translation of Prometheus API answers into console models.

Kept free of HTTP so it is unit-testable, so a malformed answer is rejected in one place
(`MalformedResponse`, which the client reports as "malformed JSON from <url>"), and so every
label value passes through `sanitize.clean` exactly once, here, at ingestion.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from console.models import VM, Alert, Host, HostState, MetricSample, VMState
from console.sanitize import clean

from .results import HostUsage, Series, VMUsage, busy_fraction

Labels = dict[str, str]
Vector = list[tuple[Labels, float]]
Matrix = list[tuple[Labels, list[tuple[float, float]]]]


class MalformedResponse(ValueError):
    """The server answered, but not with what the Prometheus HTTP API documents."""


# libvirt's virDomainState numbers, as `libvirt_domain_state_code` exports them.
_STATE: dict[int, VMState] = {
    0: VMState.UNKNOWN,  # nostate
    1: VMState.RUNNING,
    2: VMState.RUNNING,  # blocked on a resource: still running
    3: VMState.PAUSED,
    4: VMState.RUNNING,  # being shut down
    5: VMState.STOPPED,
    6: VMState.CRASHED,
    7: VMState.SUSPENDED,  # pmsuspended
}

# When a VM shows up under two hosts (mid-migration, or a stale series), keep the likelier one.
_PREFERENCE = {VMState.RUNNING: 0, VMState.PAUSED: 1, VMState.MIGRATING: 1,
               VMState.SUSPENDED: 2, VMState.CRASHED: 3, VMState.STOPPED: 4}


def state_from_code(code: float) -> VMState:
    """Map a `libvirt_domain_state_code` value to a VMState (UNKNOWN when out of range)."""
    if not math.isfinite(code):
        return VMState.UNKNOWN
    return _STATE.get(int(code), VMState.UNKNOWN)


# -- decoding --------------------------------------------------------------------------------

SLICE_BYTES = 1 << 19
"""How much of a large answer one decoding step takes (see `decode_answer`)."""
_RESULT = b'"result":['
_NEXT = b',{"metric":'


def decode_answer(body: bytes) -> Any:
    """A Prometheus API answer as Python objects, decoded in slices when large.

    Why slices: one `loads` of a 14 MB answer (100,000 series) is a single C call that holds
    the GIL for its whole length, and the event loop (another thread) waits for it: that was
    the console's longest stall. The series of `data.result` are decoded `SLICE_BYTES` at a
    time, cut where one series ends and the next begins (`},{"metric":` cannot occur inside a
    JSON string, whose quotes are escaped), so the GIL changes hands between slices. The
    result is exactly what one `loads` of the whole answer gives; anything unexpected falls
    back to that, which also reports malformed JSON (`MalformedResponse`). (orjson was tried:
    here it took as much CPU as `json` for these answers, so it is not used.)
    """
    if len(body) > 2 * SLICE_BYTES:
        try:
            sliced = _decode_sliced(body)
        except (ValueError, UnicodeDecodeError):
            sliced = None
        if sliced is not None:
            return sliced
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedResponse(f"not JSON: {exc}") from exc


def _decode_sliced(body: bytes) -> Any:
    """`decode_answer`'s slicing, or None when the answer is not laid out as expected."""
    opening = body.find(_RESULT)
    last = body.rfind(_NEXT)
    if opening < 0 or last < opening:
        return None
    first = opening + len(_RESULT)
    series: list[Any] = []
    start = first
    while start < last:
        cut = body.find(_NEXT, min(start + SLICE_BYTES, last), last + len(_NEXT))
        cut = last if cut < 0 else cut
        series.extend(json.loads(b"[" + body[start:cut] + b"]"))
        start = cut + 1
    # The last series, then what follows the list: decoded up to where the series ends.
    rest = body[start:].decode()
    final, end = json.JSONDecoder().raw_decode(rest)
    series.append(final)
    after = rest[end:]
    if not after.startswith("]"):
        return None
    answer = json.loads(body[:first - 1] + b"[]" + after[1:].encode())
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(data, dict) or data.get("result") != []:
        return None
    data["result"] = series
    return answer


# -- raw result shapes -------------------------------------------------------------------------

RELEASE_STEP = 1000


def release(*containers: list[Any] | dict[Any, Any]) -> None:
    """Empty large lists and dicts a slice at a time. Letting go of 100,000 decoded series at
    once is one deallocation of about a million objects that holds the GIL throughout (30-100
    ms, the event loop waiting); a slice at a time, the GIL can change hands in between. Only
    for containers nothing else still uses."""
    for container in containers:
        if isinstance(container, dict):
            popitem = container.popitem
            while container:
                for _ in range(min(RELEASE_STEP, len(container))):
                    popitem()
        else:
            while container:
                del container[-RELEASE_STEP:]


def _value(raw: Any) -> float:
    try:
        return float(raw)
    except (TypeError, ValueError) as exc:
        raise MalformedResponse(f"sample value {raw!r} is not a number") from exc


def vector(result: Any) -> Vector:
    """Check an instant query's `data.result` and return (labels, value) pairs."""
    if not isinstance(result, list):
        raise MalformedResponse(f"expected an instant vector (a list), got {type(result).__name__}")
    out: Vector = []
    append = out.append
    try:
        for item in result:
            labels = item["metric"]
            if not isinstance(labels, dict):
                raise MalformedResponse("a series' metric is not an object")
            append((labels, _value(item["value"][1])))
    except (KeyError, IndexError, TypeError) as exc:
        raise MalformedResponse(f"a vector element lacks metric/value ({exc!r})") from exc
    return out


def matrix(result: Any) -> Matrix:
    """Check a range query's `data.result` and return (labels, points) pairs."""
    if not isinstance(result, list):
        raise MalformedResponse(f"expected a range matrix (a list), got {type(result).__name__}")
    out: Matrix = []
    try:
        for item in result:
            labels = item["metric"]
            if not isinstance(labels, dict):
                raise MalformedResponse("a series' metric is not an object")
            points = [(_value(ts), _value(v)) for ts, v in item["values"]]
            out.append((labels, points))
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, MalformedResponse):
            raise
        raise MalformedResponse(f"a matrix element lacks metric/values ({exc!r})") from exc
    return out


class _Cleaner:
    """`clean` with a memo: 100,000 VMs share 2,000 host names."""

    def __init__(self) -> None:
        self._seen: dict[str, str] = {}

    def __call__(self, value: object) -> str:
        key = value if isinstance(value, str) else str(value)
        done = self._seen.get(key)
        if done is None:
            done = self._seen[key] = fast_clean(key)
        return done


def target_of(labels: Mapping[str, str], host_label: str) -> str:
    """The id a screen knows the series by: the VM's uuid, else the host, else all labels."""
    for key in ("uuid", host_label):
        if labels.get(key):
            return clean(labels[key])
    return clean(",".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "__name__"))


def _labels_tuple(labels: Mapping[str, str], skip: Iterable[str] = ()) -> tuple[tuple[str, str], ...]:
    drop = set(skip)
    return tuple(sorted((clean(k, max_len=64), clean(v)) for k, v in labels.items() if k not in drop))


def _by(vec: Vector, *keys: str) -> dict[tuple[str, ...], float]:
    """Index a vector by some of its labels (missing labels count as "")."""
    if len(keys) == 1:
        (a,) = keys
        return {(labels.get(a, ""),): value for labels, value in vec}
    if len(keys) == 2:
        a, b = keys
        return {(labels.get(a, ""), labels.get(b, "")): value for labels, value in vec}
    return {tuple(labels.get(k, "") for k in keys): value for labels, value in vec}


def fast_clean(value: str) -> str:
    """`clean`, skipping the work for the common case it would return unchanged: printable
    ASCII (no controls, nothing to normalise, no C1 or bidi code points) within the length."""
    if value.isascii() and value.isprintable() and len(value) <= 256:
        return value
    return clean(value)


def _int(value: float | None) -> int:
    return int(value) if value is not None and math.isfinite(value) and value > 0 else 0


# -- inventory -------------------------------------------------------------------------------


def build_hosts(*, backend: str, host_label: str, up: Vector, cpus: Vector, memory: Vector,
                available: Vector, cpu_used: Vector) -> list[Host]:
    """One Host per host that has a libvirt exporter (`up`); capacity and use joined from
    node_exporter (`cpu_used`: cores busy, Prometheus' rate, as the busy fraction of `cpus`)."""
    cpus_by, mem_by, avail_by, used_by = (_by(v, host_label)
                                          for v in (cpus, memory, available, cpu_used))
    cleaner = _Cleaner()
    hosts: dict[str, Host] = {}
    for labels, value in up:
        raw = labels.get(host_label, "")
        if not raw:
            continue
        name = cleaner(raw)
        free = avail_by.get((raw,))
        cpu_count = _int(cpus_by.get((raw,)))
        hosts[name] = Host(
            id=name, name=name, backend=backend,
            state=HostState.UP if value >= 1 else HostState.DOWN,
            hypervisor="libvirt",
            cpus=cpu_count,
            memory_bytes=_int(mem_by.get((raw,))),
            free_memory_bytes=_int(free) if free is not None else None,
            cpu_usage=busy_fraction(_finite(used_by.get((raw,))), cpu_count),
        )
    return sorted(hosts.values(), key=lambda h: h.name)


def build_vms(*, backend: str, host_label: str, state: Vector, vcpus: Vector,
              memory: Vector, cpu_used: Vector) -> list[VM]:
    """One VM per `uuid` in the state series, with vCPUs, memory and CPU cores busy (`cpu_used`,
    Prometheus' rate, kept as is in `VM.cpu_used_cores`) joined on (host, uuid)."""
    vcpus_by = _by(vcpus, host_label, "uuid")
    mem_by = _by(memory, host_label, "uuid")
    cpu_by = _by(cpu_used, host_label, "uuid")
    cleaner = _Cleaner()
    states: dict[float, VMState] = {}
    vms: dict[str, VM] = {}
    for labels, code in state:
        uuid = labels.get("uuid")
        if not uuid:
            continue
        host = labels.get(host_label, "")
        key = (host, uuid)
        vm_state = states.get(code)
        if vm_state is None:
            vm_state = states[code] = state_from_code(code)
        vm = VM(
            id=fast_clean(uuid), name=fast_clean(labels.get("domain") or uuid),
            state=vm_state, host=cleaner(host), backend=backend,
            vcpus=_int(vcpus_by.get(key)), memory_bytes=_int(mem_by.get(key)),
            cpu_used_cores=_finite(cpu_by.get(key)),
        )
        other = vms.get(vm.id)
        if other is None or _PREFERENCE.get(vm.state, 5) < _PREFERENCE.get(other.state, 5):
            vms[vm.id] = vm
    release(vcpus_by, mem_by, cpu_by)
    return list(vms.values())


# -- metrics ---------------------------------------------------------------------------------


def host_usage(*, host_label: str, cpus: Vector, cpu_used: Vector, memory: Vector,
               memory_used: Vector) -> list[HostUsage]:
    """Join the per-host usage vectors into one row per host seen in any of them."""
    parts = [_by(v, host_label) for v in (cpus, cpu_used, memory, memory_used)]
    names = sorted({key[0] for part in parts for key in part if key[0]})
    c, cu, m, mu = parts
    return [HostUsage(
        host=clean(name), cpus=_int(c.get((name,))), cpu_used=_finite(cu.get((name,))),
        memory_bytes=_int(m.get((name,))),
        memory_used_bytes=_maybe_int(mu.get((name,))),
    ) for name in names]


def vm_usage(*, host_label: str, cpu_used: Vector, memory_used: Vector) -> list[VMUsage]:
    """Join per-VM CPU and memory use on (host, uuid)."""
    cpu_by = _by(cpu_used, host_label, "uuid")
    mem_by = _by(memory_used, host_label, "uuid")
    cleaner = _Cleaner()
    out = []
    for key in sorted(cpu_by.keys() | mem_by.keys()):
        host, uuid = key
        if uuid:
            out.append(VMUsage(vm_id=fast_clean(uuid), host=cleaner(host),
                               cpu_used=_finite(cpu_by.get(key)),
                               memory_used_bytes=_maybe_int(mem_by.get(key))))
    return out


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _maybe_int(value: float | None) -> int | None:
    return int(value) if value is not None and math.isfinite(value) else None


def samples(vec: Vector, *, metric: str, timestamp: float, host_label: str) -> list[MetricSample]:
    """An instant vector as MetricSamples named `metric`, each tied to its VM or host."""
    return [MetricSample(target=target_of(labels, host_label), metric=metric,
                         timestamp=timestamp, value=value, labels=_labels_tuple(labels))
            for labels, value in vec]


def series(checked: Matrix, *, host_label: str) -> list[Series]:
    """A checked range matrix (see `matrix`) as chart Series."""
    return [Series(target=target_of(labels, host_label), labels=_labels_tuple(labels),
                   points=tuple(points)) for labels, points in checked]


# -- alerts ----------------------------------------------------------------------------------

_FRACTION = re.compile(r"\.(\d{6})\d+")


def _timestamp(text: Any) -> float | None:
    """RFC 3339 with nanoseconds (as Prometheus writes it) to Unix time; None if unparsable."""
    if not isinstance(text, str) or not text:
        return None
    text = _FRACTION.sub(r".\1", text).replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def alerts(data: Any, *, source: str, host_label: str, include_pending: bool = False) -> list[Alert]:
    """The `data` of `/api/v1/alerts` as Alerts: firing ones (and pending if asked)."""
    if not isinstance(data, dict) or not isinstance(data.get("alerts"), list):
        raise MalformedResponse("expected data.alerts to be a list")
    out: list[Alert] = []
    for item in data["alerts"]:
        if not isinstance(item, dict) or not isinstance(item.get("labels"), dict):
            raise MalformedResponse("an alert lacks its labels")
        state = str(item.get("state", ""))
        if state != "firing" and not (include_pending and state == "pending"):
            continue
        labels: dict[str, str] = item["labels"]
        notes = item.get("annotations")
        if not isinstance(notes, dict):
            notes = {}
        try:
            value: float | None = float(item.get("value", "nan"))
        except (TypeError, ValueError):
            value = None
        out.append(Alert(
            name=clean(labels.get("alertname", "")), state=clean(state), source=source,
            severity=clean(labels.get("severity", "")),
            summary=clean(notes.get("summary", ""), max_len=512),
            description=clean(notes.get("description", ""), max_len=1024),
            host=clean(labels.get(host_label, "")), vm_id=clean(labels.get("uuid", "")),
            vm_name=clean(labels.get("domain", "")),
            active_since=_timestamp(item.get("activeAt")),
            value=value if value is not None and math.isfinite(value) else None,
            labels=_labels_tuple(labels, skip=("alertname",)),
        ))
    return sorted(out, key=lambda a: (a.severity != "critical", a.name, a.host, a.vm_name))
