"""Find backend kinds by entry point (group ``novacron.backends``).

Built-in kinds are registered in our own pyproject exactly like third-party ones, so the
console has no special case for them: `console.config` builds its `Source` union from
`kinds()`, and `console.fleet.polling.sources` opens a context's entries through `kind(name).open`.
"""

from __future__ import annotations

import functools
from importlib.metadata import EntryPoint, entry_points

from backends.base import BackendKind, TransportKind
from console.errors import Code, NovaError

GROUP = "novacron.backends"
TRANSPORT_GROUP = "novacron.transports"


def available() -> dict[str, EntryPoint]:
    """Map kind name → entry point, for every installed backend."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


@functools.cache
def kind(name: str) -> BackendKind:
    """The registered kind `name`, or a NovaError listing what is installed."""
    eps = available()
    if name not in eps:
        known = ", ".join(sorted(eps)) or "none"
        raise NovaError(Code.BACKEND_UNKNOWN, f"{name!r}", f"installed kinds: {known}")
    ep = eps[name]
    try:
        loaded = ep.load()
    except Exception as exc:  # a broken plug-in names itself, and the rest still load
        raise NovaError(Code.BACKEND_UNKNOWN, f"{name!r} from {ep.value}",
                        f"it failed to load: {type(exc).__name__}: {exc}") from exc
    if not isinstance(loaded, BackendKind) or loaded.name != name:
        raise NovaError(Code.BACKEND_UNKNOWN, f"{name!r} from {ep.value}",
                        "the entry point must name a backends.base.BackendKind of that name")
    return loaded


def kinds() -> list[BackendKind]:
    """Every installed kind that loads, by name (a broken one is left out: `kind(name)`
    says why when a config uses it)."""
    found = []
    for name in sorted(available()):
        try:
            found.append(kind(name))
        except NovaError:
            continue
    return found


@functools.cache
def transport(name: str) -> TransportKind:
    """The registered transport `name` (how a kind reaches a host it cannot reach directly:
    `ssh`), or a NovaError listing what is installed."""
    eps = {ep.name: ep for ep in entry_points(group=TRANSPORT_GROUP)}
    if name not in eps:
        known = ", ".join(sorted(eps)) or "none"
        raise NovaError(Code.BACKEND_UNKNOWN, f"transport {name!r}", f"installed transports: {known}")
    loaded = eps[name].load()
    if not isinstance(loaded, TransportKind) or loaded.name != name:
        raise NovaError(Code.BACKEND_UNKNOWN, f"transport {name!r} from {eps[name].value}",
                        "the entry point must name a backends.base.TransportKind of that name")
    return loaded
