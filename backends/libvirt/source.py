"""The `libvirt` kind: its config entry and how it opens. Light: libvirt itself is imported
only when a context opens a libvirt source (`open_source`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from backends.base import Backend, BackendKind, SourceConfig
from console.errors import NovaError

from .uri import check_uri


class LibvirtSource(SourceConfig):
    """A libvirt host, reached by URI (`qemu:///system`, `qemu+tls://…`, `qemu+tcp://…`)."""

    kind: Literal["libvirt"] = "libvirt"
    uri: str = Field(min_length=1, description="libvirt connection URI.")
    host_name: str | None = Field(None, description=(
        "The host's name on screen when it differs from the source name."))

    @field_validator("uri")
    @classmethod
    def _safe(cls, value: str) -> str:
        try:
            check_uri(value)
        except NovaError as exc:
            raise ValueError(f"{exc}; remove no_verify and give the host a certificate the CA "
                             "signed") from exc
        return value


def open_source(config: LibvirtSource, *, read_only: bool) -> Backend:
    from .backend import LibvirtBackend  # the SDK loads here, when a context uses libvirt

    return LibvirtBackend(config.name, config.uri, read_only=read_only,
                          timeout_s=config.timeout_s, host_name=config.host_name)


KIND = BackendKind(
    name="libvirt", config=LibvirtSource, open=open_source,
    description="A KVM/QEMU host through libvirt-python: inventory, lifecycle, snapshots, "
                "live migration.",
    example={"kind": "libvirt", "name": "kvm-fra-01", "uri": "qemu+tls://kvm-fra-01/system"},
)
