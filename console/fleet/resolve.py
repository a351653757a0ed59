"""One way to name a VM, for the `:` command line, the CLI and the migration commands.

A reference is, in order: the fleet key (`backend/id`), `backend/name`, the exact id, the
exact name, or a unique prefix of an id (at least `MIN_PREFIX` characters, as git and docker
accept). Mid-migration a host lists the incoming, paused half of a guest too: when a name
matches a running VM and its migrating twin, the running one is meant.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from console.errors import Code, NovaError
from console.models import VM, VMState

MIN_PREFIX = 6


def resolve_vm(vms: Iterable[VM], ref: str) -> VM:
    """The one VM `ref` names; NOVA-3001 when none does, NOVA-3005 (naming the choices) when
    several do."""
    pool = list(vms)
    ref = ref.strip()
    for rule in (lambda vm: vm.key == ref, lambda vm: f"{vm.backend}/{vm.name}" == ref,
                 lambda vm: vm.id == ref, lambda vm: vm.name == ref,
                 lambda vm: len(ref) >= MIN_PREFIX and vm.id.startswith(ref)):
        found = [vm for vm in pool if rule(vm)]
        if len(found) > 1:  # the incoming half of a migration is not a second VM
            found = [vm for vm in found if vm.state is not VMState.MIGRATING] or found
        if len(found) == 1:
            return found[0]
        if found:
            choices = ", ".join(sorted(f"{vm.backend}/{vm.name}" for vm in found))
            raise NovaError(Code.AMBIGUOUS, repr(ref), f"say which: {choices}")
    raise NovaError(Code.VM_NOT_FOUND, repr(ref),
                    "no VM of this context's answering sources has that name, key or id")


def resolve_vms(vms: Sequence[VM], refs: Iterable[str]) -> list[VM]:
    """Every reference resolved (the first that fails raises)."""
    return [resolve_vm(vms, ref) for ref in refs]
