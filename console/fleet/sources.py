"""Turn a config `Context` into live backend objects, through the entry-point registry.

No branch per kind: each entry says whether it lists an inventory and whether it serves
metrics (`SourceConfig.lists_inventory`, `serves_metrics`), and its kind opens it.
"""

from __future__ import annotations

from backends import registry
from backends.base import Backend, SupportsMetrics
from console.config import Context


def build_backends(context: Context, *, read_only: bool) -> list[Backend]:
    """The inventory sources of a context, opened (no I/O yet: each connects on first use)."""
    return [registry.kind(source.kind).open(source, read_only=read_only)
            for source in context.backends if source.lists_inventory]


def build_metrics(context: Context) -> list[SupportsMetrics]:
    """The sources that feed charts, sparklines and alerts (opened read-only: they only
    read)."""
    opened = [registry.kind(source.kind).open(source, read_only=True)
              for source in context.backends if source.serves_metrics]
    return [source for source in opened if isinstance(source, SupportsMetrics)]
