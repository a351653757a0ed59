"""The inventory filter language and sorting, as pure functions over `VM`s.

`/web prod` keeps VMs whose name, host, tags, addresses or id contain every word;
`tag:env=prod`, `host:kvm-fra`, `state:running`, `backend:…` restrict one field; a leading `-`
negates a term. `backend:` matches a source's name or its kind (`backend:aws` keeps every VM of
every AWS source, given the kinds); `region:` matches the region a cloud backend states in a
`region` tag, plain or namespaced (`ec2:region=eu-west-1`). Matching is case-insensitive
substring, so any fragment an operator remembers finds the VM.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from console.models import VM

FIELDS = ("tag", "host", "state", "backend", "name", "ip", "region")


@dataclass(frozen=True, slots=True)
class Term:
    field: str | None
    text: str
    negate: bool = False


def parse(query: str) -> tuple[Term, ...]:
    """Split a filter into terms; unknown `x:` prefixes are searched as plain text."""
    terms = []
    for word in query.split():
        negate = word.startswith("-") and len(word) > 1
        if negate:
            word = word[1:]
        field, sep, rest = word.partition(":")
        if sep and field.lower() in FIELDS and rest:
            terms.append(Term(field.lower(), rest.lower(), negate))
        else:
            terms.append(Term(None, word.lower(), negate))
    return tuple(terms)


def _haystack(vm: VM) -> str:
    return "\x00".join((vm.name, vm.host, vm.id, vm.backend, *vm.tags, *vm.addresses)).lower()


def _region_match(vm: VM, text: str) -> bool:
    for tag in vm.tags:
        key, sep, value = tag.lower().partition("=")
        if sep and (key == "region" or key.endswith(":region")) and value.startswith(text):
            return True
    return False


def _field_match(vm: VM, term: Term, kinds: Mapping[str, str]) -> bool:
    if term.field == "tag":
        return any(term.text in t.lower() for t in vm.tags)
    if term.field == "host":
        return term.text in vm.host.lower()
    if term.field == "state":
        return vm.state.value.startswith(term.text) or (term.text == "stale" and vm.stale)
    if term.field == "backend":
        return term.text in vm.backend.lower() or kinds.get(vm.backend, "").lower() == term.text
    if term.field == "region":
        return _region_match(vm, term.text)
    if term.field == "ip":
        return any(term.text in a.lower() for a in vm.addresses)
    return term.text in vm.name.lower()


def match_all(_vm: VM) -> bool:
    """The predicate of an empty filter (callers may test for it: `m is match_all`)."""
    return True


def matcher(query: str, kinds: Mapping[str, str] | None = None) -> Callable[[VM], bool]:
    """A predicate for `query` (empty query: `match_all`); `kinds` maps source names
    to their kinds, for `backend:<kind>`."""
    kinds = kinds or {}
    terms = parse(query)
    if not terms:
        return match_all

    def match(vm: VM) -> bool:
        hay: str | None = None
        for term in terms:
            if term.field is None:
                if hay is None:
                    hay = _haystack(vm)
                hit = term.text in hay
            else:
                hit = _field_match(vm, term, kinds)
            if hit == term.negate:
                return False
        return True

    return match


def filter_vms(vms: Iterable[VM], query: str,
               kinds: Mapping[str, str] | None = None) -> list[VM]:
    match = matcher(query, kinds)
    return [vm for vm in vms if match(vm)]


SORT_KEYS: dict[str, Callable[[VM], object]] = {
    "name": lambda vm: vm.name.lower(),
    "state": lambda vm: (vm.state.value, vm.name.lower()),
    "host": lambda vm: (vm.host.lower(), vm.name.lower()),
    "vcpus": lambda vm: (vm.vcpus, vm.name.lower()),
    "memory": lambda vm: (vm.memory_bytes, vm.name.lower()),
    "tags": lambda vm: (",".join(vm.tags).lower(), vm.name.lower()),
    "backend": lambda vm: (vm.backend.lower(), vm.name.lower()),
    "age": lambda vm: (vm.age_s, vm.name.lower()),
}


def sort_vms(vms: Sequence[VM], column: str, reverse: bool = False) -> list[VM]:
    return sorted(vms, key=SORT_KEYS.get(column, SORT_KEYS["name"]), reverse=reverse)  # type: ignore[arg-type]
