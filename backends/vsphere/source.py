"""The `vsphere` kind: its config entry and how it opens. Light: pyVmomi is imported only when
a context opens a vSphere source (`open_source`).

Credentials never live in our config: the entry names the environment variables that hold
them (`VSPHERE_USER`/`VSPHERE_PASSWORD` by default) or a netrc-style file the operator points
to (`machine vc.example.com login … password …`, the format curl, git and ftp read). A
`password` key is refused with an error that says where the password belongs instead.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from backends.base import Backend, BackendKind, SourceConfig

REFUSED_SECRET_KEYS = ("password", "pwd", "passwd")
_HOST = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9._-]+))(?::(?P<port>\d{1,5}))?$")


def split_host(value: str) -> tuple[str, int]:
    """`vc.example.com`, `vc.example.com:8443` or `[2001:db8::1]:443` → (host, port)."""
    match = _HOST.match(value.strip())
    if match is None:
        raise ValueError(f"host {value!r} is not host[:port]: give the vCenter or ESXi address "
                         "without https:// or a path, e.g. vc.example.com or vc.example.com:8443")
    port = int(match["port"] or 443)
    if not 0 < port < 65536:
        raise ValueError(f"host {value!r}: port {port} is out of range")
    return match["v6"] or match["name"], port


class VsphereSource(SourceConfig):
    """A vCenter Server (or a standalone ESXi host) reached over its SOAP API (/sdk)."""

    kind: Literal["vsphere"] = "vsphere"
    host: str = Field(min_length=1, description="vCenter or ESXi address, host[:port] (443).")
    user_env: str = Field("VSPHERE_USER", min_length=1,
                          description="Environment variable holding the user name.")
    password_env: str = Field("VSPHERE_PASSWORD", min_length=1,
                              description="Environment variable holding the password.")
    credentials_file: Path | None = Field(None, description=(
        "A netrc-style file with `machine <host> login <user> password <secret>` (mode 600); "
        "wins over the environment variables."))
    verify_tls: bool = Field(True, description="Check the server certificate (on by default).")
    ca_file: Path | None = Field(None, description="PEM bundle of the CA(s) that signed it.")
    datacenters: tuple[str, ...] = Field((), description=(
        "Inventory paths of the datacenters to list (e.g. DC0, Lab/DC1); empty: all."))
    password: None = Field(None, exclude=True, repr=False, description=(
        "Refused: never store a password in the NovaCron config."))

    @model_validator(mode="before")
    @classmethod
    def _hide_secret(cls, data: Any) -> Any:
        """Replace a password given in the config by a marker before anything can echo it:
        the error below names the key and where the password belongs, never its value."""
        if isinstance(data, dict) and any(key in data for key in REFUSED_SECRET_KEYS):
            data = {**{k: v for k, v in data.items() if k not in REFUSED_SECRET_KEYS},
                    "password": "<hidden>"}
        return data

    @field_validator("password", mode="before")
    @classmethod
    def _no_password(cls, value: Any) -> None:
        if value is not None:
            raise ValueError(
                "a vSphere password is never stored in the NovaCron config: remove the key and "
                "export it in the variable named by password_env (VSPHERE_PASSWORD by default), "
                "or set credentials_file to a netrc-style file only you can read")
        return None

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        split_host(value)
        return value.strip()

    @field_validator("ca_file", "credentials_file")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @model_validator(mode="after")
    def _ca_needs_verify(self) -> VsphereSource:
        if self.ca_file is not None and not self.verify_tls:
            raise ValueError("ca_file is set but verify_tls = false: a CA is only used to "
                             "verify; remove one of them")
        return self

    @property
    def serves_metrics(self) -> bool:
        return True  # PerformanceManager's counters

    @property
    def address(self) -> tuple[str, int]:
        return split_host(self.host)


class VsphereTemplate(BaseModel):
    """The vSphere fields of a template: a template VM (or any VM) to clone, and where the
    clone goes. Empty placement fields follow the scheduler's host: its cluster's root
    resource pool, the template's folder and datastore."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    template_vm: str = Field(min_length=1, description=(
        "The VM to clone: its name (unique in the source) or inventory path (DC0/vm/tpl)."))
    folder: str = Field("", description="VM folder inventory path (e.g. DC0/vm/web); empty: "
                        "the template's folder.")
    resource_pool: str = Field("", description=(
        "Inventory path of a resource pool or cluster (DC0/host/C0/Resources, DC0/host/C0); "
        "empty: the chosen host's cluster root pool."))
    datastore: str = Field("", description="Datastore name for the clone; empty: the template's.")
    power_on: bool = Field(True, description="Power the new VM on once it is made.")


def open_source(config: VsphereSource, *, read_only: bool) -> Backend:
    from .backend import VsphereBackend  # pyVmomi loads here, when a context uses vSphere
    from .session import Endpoint

    host, port = config.address
    endpoint = Endpoint(host=host, port=port, user_env=config.user_env,
                        password_env=config.password_env, credentials_file=config.credentials_file,
                        verify_tls=config.verify_tls, ca_file=config.ca_file)
    return VsphereBackend(config.name, endpoint, read_only=read_only, timeout_s=config.timeout_s,
                          datacenters=config.datacenters)


KIND = BackendKind(
    name="vsphere", config=VsphereSource, open=open_source,
    description="A vCenter Server or ESXi host through pyVmomi: inventory in one property "
                "retrieval, live updates, lifecycle, snapshots, vMotion, performance counters.",
    example={"kind": "vsphere", "name": "vc-fra", "host": "vc-fra.example.com"},
    template=VsphereTemplate,
)
