"""The `prometheus` kind: its config entry and how it opens (light: no HTTP client here).

A Prometheus source always serves metrics and alerts; with `inventory = true` it also lists
the VMs, and with `host_uri`/`host_uris` the console can act on them through libvirt on each
VM's host (`host_actions.HostActions`).
"""

from __future__ import annotations

import string
from typing import Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator

from backends import registry
from backends.base import Backend, BackendKind, SourceConfig


class PrometheusSource(SourceConfig):
    """A Prometheus-API endpoint (Prometheus, Thanos, Mimir, VictoriaMetrics)."""

    kind: Literal["prometheus"] = "prometheus"
    name: str = Field("prometheus", min_length=1, description="Name shown for this source.")
    url: str = Field(min_length=1, description="Base URL, e.g. http://127.0.0.1:9090.")
    timeout_s: float = Field(5.0, gt=0, description="Per-query timeout in seconds.")
    inventory: bool = Field(False, description="Take the VM inventory from exporter series.")
    host_label: str = Field("instance", description="Label naming a hypervisor in every series.")
    window: str = Field("5m", description="rate() window for CPU and I/O queries.")
    queries: dict[str, str] = Field(default_factory=dict,
                                    description="PromQL template overrides by metric name.")
    host_uri: str | None = Field(None, description=(
        "libvirt URI template for acting on a VM of the inventory: `{host}` is the value of "
        "the host label, e.g. qemu+ssh://{host}/system."))
    host_uris: dict[str, str] = Field(default_factory=dict, description=(
        "libvirt URI per host (the host label's value); wins over `host_uri`."))

    @field_validator("host_uri")
    @classmethod
    def _template(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        _needs_inventory("host_uri", info)
        try:
            fields = {field for _, field, _, _ in string.Formatter().parse(value)
                      if field is not None}
        except ValueError as exc:
            raise ValueError(f"host_uri {value!r} is not a valid template ({exc}); "
                             "write it like qemu+ssh://{host}/system") from exc
        if fields != {"host"}:
            other = sorted(fields - {"host"})
            problem = f"has other fields {other}" if other else "has no {host}"
            raise ValueError(f"host_uri {problem}: it takes exactly one field, {{host}}, the "
                             "value of the host label; e.g. qemu+ssh://{host}/system, or list "
                             "each host under host_uris")
        _refuse_unsafe("host_uri", value)
        return value

    @field_validator("host_uris")
    @classmethod
    def _per_host(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        if value:
            _needs_inventory("host_uris", info)
        for host, uri in value.items():
            if not host or not uri:
                raise ValueError(f"host_uris: empty host name or URI ({host!r} = {uri!r})")
            _refuse_unsafe(f"host_uris.{host}", uri)
        return value

    def libvirt_uri(self, host: str) -> str | None:
        """The libvirt URI to act on `host`: `host_uris[host]`, else the template filled in,
        else None (this source cannot act on that host)."""
        if host in self.host_uris:
            return self.host_uris[host]
        if self.host_uri is None:
            return None
        return self.host_uri.format(host=host)

    @property
    def lists_inventory(self) -> bool:
        return self.inventory

    @property
    def serves_metrics(self) -> bool:
        return True


def _needs_inventory(key: str, info: ValidationInfo) -> None:
    if not info.data.get("inventory"):
        raise ValueError(f"{key} is only used with `inventory = true` (the console acts on the "
                         "hosts of the Prometheus inventory); set it, or remove the key")


def _refuse_unsafe(key: str, uri: str) -> None:
    """The libvirt kind's own URI check (no_verify is refused), at load time."""
    try:
        registry.kind("libvirt").config.model_validate({"kind": "libvirt", "name": key, "uri": uri})
    except ValidationError as exc:
        raise ValueError(f"{key}: {exc.errors()[0]['msg']}") from exc


def open_source(config: PrometheusSource, *, read_only: bool) -> Backend:
    from .backend import PrometheusBackend  # the HTTP client loads here, when a context uses it
    from .host_actions import HostActions

    backend = PrometheusBackend.from_source(config)
    if config.inventory and (config.host_uri or config.host_uris):
        return HostActions(backend, config, read_only=read_only)  # act through the VMs' hosts
    return backend


KIND = BackendKind(
    name="prometheus", config=PrometheusSource, open=open_source,
    description="A Prometheus-API endpoint (Prometheus, Thanos, Mimir, VictoriaMetrics): "
                "metrics, alerts, and optionally the VM inventory from the libvirt exporters.",
    example={"kind": "prometheus", "url": "http://prometheus:9090"},
)
