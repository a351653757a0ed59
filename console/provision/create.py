"""Create VMs: validate the request, let the scheduler choose hosts, then run each VM's
saga through the dispatcher.

`plan` is pure (a template, a snapshot, the request → one `Planned` per VM, with the ranking
and its reasons); `run` sends each planned VM through the dispatcher as a `vm.create`
request (read-only refuses it, the audit records it and, through `StepAudit`, each step and
compensation), several VMs at once.

Idempotency: the request id (given, or generated) becomes each VM's id `<id>` (one VM) or
`<id>-<n>`; the backend stores it on the VM and returns the VM already made for a repeat.
A VM whose name already exists is sent to the host that has it, so a retry finds it there
(the backend refuses a clash with a VM another request made).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from backends.base import saga_steps
from console.actions.dispatcher import Dispatcher, Outcome, Request, Target
from console.actions.registry import CREATE
from console.config import Context, TemplateConfig
from console.errors import Code, NovaError
from console.fleet.capacity import host_capacity
from console.models import VM, FleetSnapshot, VMState
from console.provision import placement, templates
from console.provision.placement import Demand, Fit, Overcommit
from console.provision.saga import OnStep, StepAudit
from console.sanitize import clean

AUTO = "auto"
MAX_COUNT = 50


@dataclass(frozen=True, slots=True)
class CreateRequest:
    """What the operator asked for (sizes None: the template's)."""

    template: str
    name: str
    count: int = 1
    host: str = AUTO
    vcpus: int | None = None
    memory_bytes: int | None = None
    disk_bytes: int | None = None
    tags: tuple[str, ...] = ()
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class Planned:
    """One VM to make: where it goes and why, or why it cannot be made."""

    name: str
    request_id: str
    vcpus: int
    memory_bytes: int
    disk_bytes: int
    tags: tuple[str, ...]
    ranking: tuple[Fit, ...] = ()
    chosen: Fit | None = None
    error: NovaError | None = None
    existing: str = ""
    """The host that already has a VM of this name (a retry goes there)."""
    template: Mapping[str, object] = field(default_factory=dict)


def vm_names(name: str, count: int) -> list[str]:
    """`name` alone, or name-1…name-K for several."""
    if not 1 <= count <= MAX_COUNT:
        raise NovaError(Code.CONFIG_INVALID, f"count {count}", f"make 1 to {MAX_COUNT} VMs at once")
    return [name] if count == 1 else [f"{name}-{i}" for i in range(1, count + 1)]


def _valid_name(name: str) -> str:
    if not name or clean(name) != name or any(c in name for c in "/ \t") or len(name) > 64:
        raise NovaError(Code.CONFIG_INVALID, f"VM name {name!r}",
                        "use letters, digits, '-', '_' and '.' (at most 64)")
    return name


def plan(req: CreateRequest, context: Context, snapshot: FleetSnapshot,
         kinds: Mapping[str, str]) -> list[Planned]:
    """Place every VM of the request. `kinds` maps each backend name to its kind: only hosts
    of the template's kind are candidates. Raises NovaError for a bad request as a whole."""
    template = templates.get(context, req.template)
    names = [_valid_name(n) for n in vm_names(req.name, req.count)]
    rid = req.request_id or uuid.uuid4().hex
    limits = Overcommit(context.overcommit.cpu, context.overcommit.memory)
    tags = tuple(dict.fromkeys([*template.tags, *(clean(t) for t in req.tags)]))
    vcpus = req.vcpus or template.vcpus
    memory = req.memory_bytes or int(template.memory)
    disk = req.disk_bytes if req.disk_bytes is not None else int(template.disk)
    fields = template.fields()
    demand = Demand(vcpus, memory, arch=str(fields.get("arch", "")),
                    spread=placement.spread_value(tags, context.spread_by))
    caps = {c.host.name: c for c in host_capacity(snapshot)
            if kinds.get(c.host.backend) == template.kind}
    where = {vm.name: vm.host for vm in snapshot.vms}
    placed = list(snapshot.vms)
    result: list[Planned] = []
    for i, name in enumerate(names):
        one = Planned(name, rid if len(names) == 1 else f"{rid}-{i + 1}", vcpus, memory, disk,
                      tags, template=fields)
        ranking = tuple(placement.place(demand, caps.values(), placed, limits))
        chosen, error = _choose(req.host, ranking, where.get(name, ""), template)
        result.append(_with(one, ranking, chosen, error, where.get(name, "")))
        if chosen is not None and not where.get(name):
            caps[chosen.host.name] = placement.reserve(caps[chosen.host.name], vcpus, memory)
            placed.append(_placeholder(name, chosen, tags))
    return result


def _choose(host: str, ranking: Sequence[Fit], existing: str,
            template: TemplateConfig) -> tuple[Fit | None, NovaError | None]:
    by_name = {f.host.name: f for f in ranking}
    if existing:  # a retry (or a clash the backend will name): the host that has it
        return by_name.get(existing), None if existing in by_name else NovaError(
            Code.NAME_TAKEN, f"on {existing}", f"it is not a {template.kind} host of this context")
    if host and host != AUTO:
        fit = by_name.get(host)
        if fit is None:
            return None, NovaError(Code.CONFIG_INVALID, f"no {template.kind} host {host!r}",
                                   f"choose one of: {', '.join(by_name) or 'none'}")
        return (fit, None) if fit.ok else (None, NovaError(
            Code.INSUFFICIENT_RESOURCES, f"{host}", fit.refusal()))
    if not ranking:
        return None, NovaError(Code.INSUFFICIENT_RESOURCES, f"no {template.kind} host",
                               "this context has no host that can make this template")
    if not ranking[0].ok:
        return None, NovaError(Code.INSUFFICIENT_RESOURCES, "no host fits",
                               f"best was {ranking[0].host.name}: {ranking[0].refusal()}")
    return ranking[0], None


def _with(one: Planned, ranking: tuple[Fit, ...], chosen: Fit | None, error: NovaError | None,
          existing: str) -> Planned:
    return Planned(one.name, one.request_id, one.vcpus, one.memory_bytes, one.disk_bytes,
                   one.tags, ranking, chosen, error, existing, one.template)


def _placeholder(name: str, chosen: Fit, tags: tuple[str, ...]) -> VM:
    """The VM about to be made, so the next VM of the request sees its tags (anti-affinity)."""
    return VM(id=f"planned:{name}", name=name, state=VMState.PENDING, host=chosen.host.name,
              backend=chosen.host.backend, tags=tags)


def request_of(p: Planned, *, origin: str) -> Request:
    """The `vm.create` request of one planned VM. Its request id travels in the parameters
    (the backend stores it on the VM); the audit row keeps its own unique key, since a
    repeated request is a new row that finds the VM already made."""
    backend = p.chosen.host.backend if p.chosen is not None else ""
    host = p.chosen.host.name if p.chosen is not None else ""
    params: dict[str, object] = {
        "name": p.name, "vcpus": p.vcpus, "memory_bytes": p.memory_bytes,
        "disk_bytes": p.disk_bytes, "host": host, "template": dict(p.template),
        "tags": list(p.tags), "request_id": p.request_id}
    return Request(CREATE, Target(backend, f"new:{p.name}", p.name), params, origin=origin)


async def run(dispatcher: Dispatcher, planned: Sequence[Planned], *, origin: str,
              on_step: OnStep | None = None) -> list[Outcome]:
    """Make every planned VM at once; a VM that could not be placed is refused (audited)."""

    async def one(p: Planned) -> Outcome:
        request = request_of(p, origin=origin)
        if p.error is not None and not dispatcher.read_only:
            return await dispatcher.refuse(request, p.error)
        saga_steps.set(StepAudit(dispatcher.audit, dispatcher.context, request.target, CREATE,
                                 on_step))
        return await dispatcher.run(request)

    return list(await asyncio.gather(*(one(p) for p in planned)))
