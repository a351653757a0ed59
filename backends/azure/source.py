"""The `azure` kind: its config entry (`config.AzureSource`) and how it opens. Light: the Azure
SDK is imported only when a context opens an Azure source (`open_source`)."""

from __future__ import annotations

from backends.base import Backend, BackendKind

from .config import AzureSource
from .template import AzureTemplate

__all__ = ["KIND", "AzureSource", "AzureTemplate", "open_source"]


def open_source(config: AzureSource, *, read_only: bool) -> Backend:
    from .backend import AzureBackend  # the SDK loads here, when a context uses Azure

    return AzureBackend.from_source(config, read_only=read_only)


KIND = BackendKind(
    name="azure", config=AzureSource, open=open_source,
    description="Azure virtual machines through Azure Resource Manager (azure-mgmt-compute "
                "aio): inventory with power state, start, power off, deallocate, restart, "
                "delete as long-running operations; VMs made from an image (templates).",
    example={"kind": "azure", "name": "azure-prod",
             "subscriptions": ["00000000-0000-0000-0000-000000000000"]},
    template=AzureTemplate,
)
