"""Turn a config `Context` into live backend objects, through the entry-point registry."""

from __future__ import annotations

from typing import Any

from backends import registry
from backends.base import Backend
from console.config import ConfigError, Context, LibvirtSource, PrometheusSource
from console.errors import Code
from console.host_actions import HostActions


def _prometheus(source: PrometheusSource) -> Any:
    """Build a Prometheus backend; a bad PromQL template is a config error naming the source."""
    try:
        return registry.load(source.kind).from_source(source)
    except ValueError as exc:
        raise ConfigError(Code.CONFIG_INVALID, f"backend '{source.name}' queries: {exc}",
                          "fix the template names under `queries`") from exc


def build_backends(context: Context, *, read_only: bool) -> list[Backend]:
    """The inventory sources of a context: every libvirt host, and Prometheus when it is
    configured to supply the inventory (`inventory = true`) instead of per-host connections;
    with `host_uri`/`host_uris` its VMs can be acted on too (`console.host_actions`)."""
    backends: list[Backend] = []
    for source in context.backends:
        if isinstance(source, LibvirtSource):
            cls = registry.load(source.kind)
            backends.append(cls(source.name, source.uri, read_only=read_only,
                                timeout_s=source.timeout_s))
        elif isinstance(source, PrometheusSource) and source.inventory:
            inventory = _prometheus(source)
            if source.host_uri or source.host_uris:  # act on its VMs through their hosts
                inventory = HostActions(inventory, source, read_only=read_only)
            backends.append(inventory)
    return backends


def build_metrics(context: Context) -> Any | None:
    """The Prometheus backend that feeds charts and alerts, if the context has one."""
    for source in context.backends:
        if isinstance(source, PrometheusSource):
            return _prometheus(source)
    return None
