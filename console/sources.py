"""Turn a config `Context` into live backend objects, through the entry-point registry."""

from __future__ import annotations

from typing import Any

from backends import registry
from backends.base import Backend
from console.config import Context, LibvirtSource, PrometheusSource


def build_backends(context: Context, *, read_only: bool) -> list[Backend]:
    """The inventory sources of a context: every libvirt host, and Prometheus when it is
    configured to supply the inventory (`inventory = true`) instead of per-host connections."""
    backends: list[Backend] = []
    for source in context.backends:
        cls = registry.load(source.kind)
        if isinstance(source, LibvirtSource):
            backends.append(cls(source.name, source.uri, read_only=read_only,
                                timeout_s=source.timeout_s))
        elif isinstance(source, PrometheusSource) and source.inventory:
            backends.append(cls.from_source(source))
    return backends


def build_metrics(context: Context) -> Any | None:
    """The Prometheus backend that feeds charts and alerts, if the context has one."""
    for source in context.backends:
        if isinstance(source, PrometheusSource):
            return registry.load(source.kind).from_source(source)
    return None
