"""The `libvirt` kind: its config entry and how it opens. Light: libvirt itself is imported
only when a context opens a libvirt source (`open_source`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ByteSize, ConfigDict, Field, field_validator, model_validator

from backends import registry
from backends.base import Backend, BackendKind, SourceConfig
from console.errors import NovaError

from .tunnel import DEFAULT_SOCKET, SshTunnel
from .uri import check_uri


class LibvirtSource(SourceConfig):
    """A libvirt host, reached by URI (`qemu:///system`, `qemu+tls://…`, `qemu+tcp://…`)."""

    kind: Literal["libvirt"] = "libvirt"
    uri: str = Field(min_length=1, description="libvirt connection URI.")
    host_name: str | None = Field(None, description=(
        "The host's name on screen when it differs from the source name."))
    transport: Literal["direct", "ssh"] = Field("direct", description=(
        "direct: libvirt opens `uri` itself. ssh: the host's libvirt socket is tunnelled over "
        "the console's own SSH connection to `ssh_host` (ssh config, ProxyJump, strict host "
        "keys); `uri` then says how other hypervisors reach this one (migration target)."))
    ssh_host: str | None = Field(None, description=(
        "With transport = \"ssh\": the host's alias in the ssh config (or user@host:port)."))
    ssh_config: str | None = Field(None, description=(
        "The ssh client config file (default ~/.ssh/config)."))
    libvirt_socket: str = Field(DEFAULT_SOCKET, description=(
        "With transport = \"ssh\": libvirtd's unix socket on the host."))

    @field_validator("uri")
    @classmethod
    def _safe(cls, value: str) -> str:
        try:
            check_uri(value)
        except NovaError as exc:
            raise ValueError(f"{exc}; remove no_verify and give the host a certificate the CA "
                             "signed") from exc
        return value

    @model_validator(mode="after")
    def _ssh_needs_a_host(self) -> LibvirtSource:
        if self.transport == "ssh" and not self.ssh_host:
            raise ValueError('transport = "ssh" needs ssh_host (the host\'s alias in the ssh '
                             "config)")
        if self.transport == "direct" and self.ssh_host:
            raise ValueError('ssh_host is only used with transport = "ssh"; set it, or remove '
                             "ssh_host")
        return self


class LibvirtTemplate(BaseModel):
    """The libvirt fields of a template: a base image in a storage pool, and how the guest
    boots. A new VM's disk is a qcow2 overlay on the base image (or a full copy)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pool: str = Field(min_length=1, description="Storage pool holding the base image.")
    base_volume: str = Field(min_length=1, description="The base image's volume name.")
    full_copy: bool = Field(False, description="Copy the base image instead of an overlay.")
    network: str = Field("", description="libvirt network for the NIC (empty: no NIC).")
    max_vcpus: int = Field(0, ge=0, description="vCPU ceiling for live resize (0: the size).")
    max_memory: ByteSize = Field(ByteSize(0), description="Memory ceiling for live resize.")
    kernel: str = Field("", description="Direct kernel boot: the kernel's path on the host.")
    initrd: str = ""
    cmdline: str = ""
    domain_type: Literal["kvm", "qemu", "test"] = "kvm"
    """`test`: the libvirt test driver (the functional tests)."""
    arch: str = "x86_64"
    machine: str = "pc"


def open_source(config: LibvirtSource, *, read_only: bool) -> Backend:
    from .backend import LibvirtBackend  # the SDK loads here, when a context uses libvirt

    if config.transport == "ssh" and config.ssh_host:
        link = registry.transport("ssh").open(config.ssh_host, config_path=config.ssh_config,
                                              timeout_s=config.timeout_s)
        tunnel = SshTunnel(link, config.libvirt_socket, timeout_s=config.timeout_s)
        return LibvirtBackend(config.name, config.uri, read_only=read_only,
                              timeout_s=config.timeout_s, host_name=config.host_name,
                              transport=tunnel)
    return LibvirtBackend(config.name, config.uri, read_only=read_only,
                          timeout_s=config.timeout_s, host_name=config.host_name)


KIND = BackendKind(
    name="libvirt", config=LibvirtSource, open=open_source,
    description="A KVM/QEMU host through libvirt-python: inventory, lifecycle, snapshots, "
                "live migration.",
    example={"kind": "libvirt", "name": "kvm-fra-01", "uri": "qemu+tls://kvm-fra-01/system"},
    template=LibvirtTemplate,
)
