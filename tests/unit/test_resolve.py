"""One way to name a VM (CLI, `:` line, `vm migrate`): key, backend/name, id, name, id prefix."""

from __future__ import annotations

import pytest

from console.errors import Code, NovaError
from console.fleet.resolve import resolve_vm
from console.models import VM, VMState

FLEET = [
    VM(id="4f1c2a9e-0001", name="web-01", state=VMState.RUNNING, host="h1", backend="h1"),
    VM(id="4f1c2a9e-0002", name="web-02", state=VMState.RUNNING, host="h1", backend="h1"),
    VM(id="77aa0000-0003", name="db-01", state=VMState.RUNNING, host="h1", backend="h1"),
    VM(id="77bb0000-0004", name="db-01", state=VMState.STOPPED, host="h2", backend="h2"),
    # mid-migration: the incoming half of web-03 on h2, the running one on h1
    VM(id="9c9c0000-0005", name="web-03", state=VMState.RUNNING, host="h1", backend="h1"),
    VM(id="9c9c0000-0005", name="web-03", state=VMState.MIGRATING, host="h2", backend="h2"),
]


@pytest.mark.parametrize(("ref", "expected"), [
    ("web-01", ("h1", "4f1c2a9e-0001")),
    ("h2/db-01", ("h2", "77bb0000-0004")),
    ("h1/77aa0000-0003", ("h1", "77aa0000-0003")),
    ("77bb0000-0004", ("h2", "77bb0000-0004")),
    ("77bb00", ("h2", "77bb0000-0004")),          # a unique id prefix
    ("web-03", ("h1", "9c9c0000-0005")),          # the running half, not the incoming one
])
def test_a_reference_names_one_vm(ref: str, expected: tuple[str, str]) -> None:
    vm = resolve_vm(FLEET, ref)
    assert (vm.backend, vm.id) == expected


def test_a_name_on_two_hosts_is_ambiguous_and_lists_the_choices() -> None:
    with pytest.raises(NovaError) as err:
        resolve_vm(FLEET, "db-01")
    assert err.value.kind is Code.AMBIGUOUS
    assert "h1/db-01" in err.value.cause and "h2/db-01" in err.value.cause


@pytest.mark.parametrize("ref", ["nope", "4f1c", "4f1c2a9e-00"])
def test_unknown_short_or_shared_prefixes_are_not_guessed(ref: str) -> None:
    with pytest.raises(NovaError) as err:
        resolve_vm(FLEET, ref)
    assert err.value.kind in (Code.VM_NOT_FOUND, Code.AMBIGUOUS)
    assert err.value.kind is (Code.AMBIGUOUS if ref == "4f1c2a9e-00" else Code.VM_NOT_FOUND)
