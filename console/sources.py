"""Turn a config `Context` into live backend objects, through the entry-point registry."""

from __future__ import annotations

from backends import registry
from backends.base import Backend
from console.config import Context, LibvirtSource


def build_backends(context: Context, *, read_only: bool) -> list[Backend]:
    """One backend per inventory source of the context (Prometheus inventory comes later)."""
    backends: list[Backend] = []
    for source in context.backends:
        if isinstance(source, LibvirtSource):
            cls = registry.load(source.kind)
            backends.append(cls(source.name, source.uri, read_only=read_only,
                                timeout_s=source.timeout_s))
    return backends
