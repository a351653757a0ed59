"""The Azure fields of a context's template: what `vm create` makes a VM from. Light (pydantic
only): `source.py` registers it as the kind's template model, `create.py` uses it.

Spelled as `az vm create` spells them: an image URN (`publisher:offer:sku:version`), a size,
a resource group and a location, an existing subnet (a network interface is made in it) or an
existing network interface, an admin user and the path of an SSH public key. Never a password:
a Linux VM made here accepts SSH keys only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

REFUSED_SECRET_KEYS = ("password", "admin_password", "adminPassword")


@dataclass(frozen=True, slots=True)
class ImageRef:
    publisher: str
    offer: str
    sku: str
    version: str

    def as_arm(self) -> dict[str, str]:
        return {"publisher": self.publisher, "offer": self.offer, "sku": self.sku,
                "version": self.version}


def parse_urn(urn: str) -> ImageRef:
    parts = [p.strip() for p in urn.split(":")]
    if len(parts) != 4 or not all(parts):
        raise ValueError(f"image {urn!r} is not an image URN: write publisher:offer:sku:version "
                         "(`az vm image list -o table` shows them), e.g. "
                         "Canonical:ubuntu-24_04-lts:server:latest")
    return ImageRef(*parts)


def _arm_id(value: str, kind: str, example: str) -> str:
    parts = [p.lower() for p in value.split("/") if p]
    if not value.startswith("/subscriptions/") or kind.lower() not in parts:
        raise ValueError(f"{value!r} is not an Azure {kind} resource id, e.g. {example}")
    return value.rstrip("/")


class AzureTemplate(BaseModel):
    """An Azure image and size, where the VM goes, and how the operator signs in to it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    image: str = Field(min_length=1, description=(
        "Image URN publisher:offer:sku:version, e.g. Canonical:ubuntu-24_04-lts:server:latest."))
    size: str = Field("", description=(
        "VM size, e.g. Standard_B2s; empty: the smallest size of the location with the "
        "template's (or the request's) vCPUs and memory."))
    resource_group: str = Field(min_length=1, description="Resource group the VM is made in.")
    location: str = Field(min_length=1, description="Azure region, e.g. westeurope.")
    zone: str = Field("", description="Availability zone (1, 2, 3); empty: none.")
    subnet_id: str = Field("", description=(
        "Resource id of an existing subnet: a network interface is made in it for each VM "
        "(and deleted with the VM)."))
    nic_id: str = Field("", description="Resource id of an existing network interface to use "
                        "instead (one VM only).")
    nic_name: str = Field("{vm}-nic", description=(
        "Name of the network interface made in `subnet_id`; `{vm}` is the VM's name."))
    admin_user: str = Field("azureuser", min_length=1, description="The VM's admin user.")
    ssh_public_key: str = Field("~/.ssh/id_rsa.pub", min_length=1, description=(
        "Path of the SSH public key installed for the admin user (read when a VM is made)."))
    os_disk_type: str = Field("", description=(
        "Managed disk type of the OS disk (Standard_LRS, StandardSSD_LRS, Premium_LRS); "
        "empty: Azure's default for the size."))
    password: None = Field(None, exclude=True, repr=False, description=(
        "Refused: VMs made here take SSH keys only."))

    @model_validator(mode="before")
    @classmethod
    def _hide_secret(cls, data: Any) -> Any:
        """Swap a password for a marker before anything can echo it: the error below names
        the key and what to do instead, never the value."""
        if isinstance(data, dict) and any(k in data for k in REFUSED_SECRET_KEYS):
            data = {**{k: v for k, v in data.items() if k not in REFUSED_SECRET_KEYS},
                    "password": "<hidden>"}
        return data

    @field_validator("password", mode="before")
    @classmethod
    def _no_password(cls, value: Any) -> None:
        if value is not None:
            raise ValueError("an admin password is never kept in the NovaCron config: remove "
                             "it; VMs made from Azure templates sign in with the SSH key named "
                             "by ssh_public_key")
        return None

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        parse_urn(value)
        return value.strip()

    @field_validator("subnet_id")
    @classmethod
    def _subnet(cls, value: str) -> str:
        return _arm_id(value, "subnets", "/subscriptions/<id>/resourceGroups/<rg>/providers/"
                       "Microsoft.Network/virtualNetworks/<vnet>/subnets/<subnet>") if value else ""

    @field_validator("nic_id")
    @classmethod
    def _nic(cls, value: str) -> str:
        return _arm_id(value, "networkInterfaces", "/subscriptions/<id>/resourceGroups/<rg>/"
                       "providers/Microsoft.Network/networkInterfaces/<name>") if value else ""

    @field_validator("nic_name")
    @classmethod
    def _nic_name(cls, value: str) -> str:
        if not value.replace("{vm}", "x") or "/" in value:
            raise ValueError(f"nic_name {value!r} must be a name (no '/'), e.g. {{vm}}-nic")
        return value

    @model_validator(mode="after")
    def _one_network(self) -> AzureTemplate:
        if bool(self.subnet_id) == bool(self.nic_id):
            raise ValueError("give exactly one of subnet_id (a network interface is made in "
                             "it) or nic_id (an existing network interface)")
        return self

    @property
    def image_ref(self) -> ImageRef:
        return parse_urn(self.image)

    @property
    def subscription(self) -> str:
        """The subscription of the subnet or interface: the VM must be in the same one."""
        parts = (self.subnet_id or self.nic_id).split("/")
        return parts[2]

    def nic_for(self, vm_name: str) -> str:
        return self.nic_name.replace("{vm}", vm_name)
