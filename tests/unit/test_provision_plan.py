"""Planning a create (pure): template lookup, names, sizes, where each VM goes and why not,
and templates in the config validated by their kind."""

from __future__ import annotations

import pytest

from console.config import Context
from console.errors import Code, NovaError
from console.models import VM, FleetSnapshot, Host, HostState, VMState
from console.provision.create import CreateRequest, plan, request_of
from console.provision.templates import parse_size, rows

GIB = 2**30
TEMPLATE = {"kind": "libvirt", "vcpus": 2, "memory": "2GiB", "tags": ["env=test"],
            "pool": "vms", "base_volume": "base.qcow2"}


def context(**extra: object) -> Context:
    return Context.model_validate({"spread_by": "role", "templates": {"small": TEMPLATE},
                                   **extra})


def host(name: str, mem: int = 16, cpus: int = 4, state: HostState = HostState.UP) -> Host:
    return Host(id=name, name=name, backend=name, state=state, arch="x86_64", cpus=cpus,
                memory_bytes=mem * GIB)


def snap(hosts: list[Host], vms: list[VM] = ()) -> FleetSnapshot:  # type: ignore[assignment]
    return FleetSnapshot(context="t", taken_at=0, hosts=tuple(hosts), vms=tuple(vms))


KINDS = {"a": "libvirt", "b": "libvirt", "c": "libvirt", "cloud": "aws"}


def test_several_vms_spread_by_role_and_named_in_order() -> None:
    s = snap([host("a"), host("b"), host("c")])
    planned = plan(CreateRequest("small", "pg", count=3, tags=("role=pg",), request_id="r"),
                   context(), s, KINDS)
    assert [p.name for p in planned] == ["pg-1", "pg-2", "pg-3"]
    assert [p.request_id for p in planned] == ["r-1", "r-2", "r-3"]
    assert len({p.chosen.host.name for p in planned if p.chosen}) == 3
    assert planned[0].tags == ("env=test", "role=pg")
    assert (planned[0].vcpus, planned[0].memory_bytes) == (2, 2 * GIB)


def test_only_hosts_of_the_templates_kind_are_candidates() -> None:
    s = snap([host("a"), Host(id="cloud", name="eu-west-1a", backend="cloud", cpus=1000,
                               memory_bytes=1000 * GIB)])
    (p,) = plan(CreateRequest("small", "x"), context(), s, KINDS)
    assert [f.host.name for f in p.ranking] == ["a"]


def test_a_name_that_exists_goes_to_its_host_for_the_backend_to_judge() -> None:
    s = snap([host("a", mem=64), host("b")],
             [VM(id="u", name="x", state=VMState.RUNNING, host="b", backend="b")])
    (p,) = plan(CreateRequest("small", "x", request_id="again"), context(), s, KINDS)
    assert p.chosen is not None and p.chosen.host.name == "b" and p.existing == "b"


@pytest.mark.parametrize(("request_", "code", "words"), [
    (CreateRequest("smal", "x"), Code.CONFIG_INVALID, "did you mean 'small'"),
    (CreateRequest("small", "bad/name"), Code.CONFIG_INVALID, "letters, digits"),
    (CreateRequest("small", "x", count=0), Code.CONFIG_INVALID, "1 to 50"),
])
def test_bad_requests_are_refused_whole(request_: CreateRequest, code: Code, words: str) -> None:
    with pytest.raises(NovaError) as err:
        plan(request_, context(), snap([host("a")]), KINDS)
    assert err.value.kind is code and words in str(err.value)


@pytest.mark.parametrize(("hosts", "host", "words"), [
    ([host("a", mem=1)], "auto", "best was a: capacity: memory"),
    ([host("a", state=HostState.DOWN)], "auto", "target reachable"),
    ([host("a"), host("b", mem=1)], "b", "capacity: memory"),
    ([host("a")], "zz", "choose one of: a"),
])
def test_a_vm_that_cannot_be_placed_says_why(hosts: list[Host], host: str, words: str) -> None:
    (p,) = plan(CreateRequest("small", "x", host=host), context(), snap(hosts), KINDS)
    assert p.chosen is None and p.error is not None and words in str(p.error)


def test_the_request_carries_the_vm_and_its_request_id() -> None:
    (p,) = plan(CreateRequest("small", "x", request_id="r9"), context(), snap([host("a")]), KINDS)
    request = request_of(p, origin="cli")
    assert (request.action, request.target.backend, request.target.name) == ("vm.create", "a", "x")
    assert request.params["request_id"] == "r9" and request.params["template"]["pool"] == "vms"


def test_templates_are_validated_by_their_kind() -> None:
    with pytest.raises(ValueError, match="pool"):
        Context.model_validate({"templates": {"t": {"kind": "libvirt", "base_volume": "b"}}})
    with pytest.raises(ValueError, match="extra"):
        Context.model_validate({"templates": {"t": {**TEMPLATE, "pooll": "x"}}})
    with pytest.raises(ValueError, match="no backend of kind 'libvrt'"):
        Context.model_validate({"templates": {"t": {**TEMPLATE, "kind": "libvrt"}}})
    with pytest.raises(ValueError, match="cannot create VMs"):
        Context.model_validate({"templates": {"t": {"kind": "prometheus"}}})
    (row,) = rows(context())
    assert (row.name, row.source, row.memory_bytes) == ("small", "vms/base.qcow2", 2 * GIB)


@pytest.mark.parametrize(("text", "value"), [("8GiB", 8 * GIB), ("8G", 8 * GIB),
                                             ("512MiB", 512 * 2**20), ("1024", 1024)])
def test_sizes(text: str, value: int) -> None:
    assert parse_size(text) == value


def test_a_size_that_is_not_one() -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_size("lots")
