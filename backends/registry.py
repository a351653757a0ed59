"""Find backend kinds by entry point (group ``novacron.backends``).

Built-in adapters are registered in our own pyproject exactly like third-party ones, so the
console has no special case for them.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from console.errors import Code, NovaError

GROUP = "novacron.backends"


def available() -> dict[str, Any]:
    """Map kind name → entry point, for every installed backend."""
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def load(kind: str) -> Any:
    """Return the backend class for `kind`, or raise a NovaError listing what is installed."""
    eps = available()
    if kind not in eps:
        known = ", ".join(sorted(eps)) or "none"
        raise NovaError(Code.BACKEND_UNKNOWN, f"{kind!r}", f"installed kinds: {known}")
    return eps[kind].load()
