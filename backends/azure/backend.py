"""Azure VMs as a NovaCron backend, on the SDK's async clients (no threads needed).

One `ComputeManagementClient` per subscription, opened on first use. The inventory is one
`virtualMachines?statusOnly=true` listing per subscription (paged by ARM's nextLink), which
carries every VM's power state; sizes are turned into vCPUs and memory from the region's size
list, cached. Actions are long-running operations (`actions.py`, `lro.py`).

The backend takes its credential from the caller: `from_source` builds the one the config
names (Azure's own chain by default); tests and embedders pass any `AsyncTokenCredential`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from azure.core.credentials_async import AsyncTokenCredential
from azure.mgmt.compute.aio import ComputeManagementClient

from console.errors import Code, NovaError
from console.models import VM, Host

from . import arm
from .actions import ActionsMixin
from .addresses import Addresses
from .config import AzureSource, CredentialKind
from .create import CreateMixin
from .errors import translate
from .inventory import SizeSpec, hosts_of, size_from_arm, vm_from_arm
from .lro import Listener, Operations
from .metrics import MetricsMixin
from .resize import ResizeMixin

log = logging.getLogger(__name__)

LIST_API_VERSION = "2024-07-01"
"""ARM api-version of the VM listing (statusOnly and $expand=instanceView are both in it)."""
BUILD_SLICE = 250
"""VM documents turned into VMs per turn of the event loop (a few ms): all 10,000 of a large
subscription at once held the loop 100-150 ms (`make bench ARGS=latency`, azure case)."""


def make_credential(kind: CredentialKind) -> AsyncTokenCredential:
    """The azure-identity (aio) credential a config names; they read their own environment
    (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_AUTHORITY_HOST…) as documented by Azure."""
    from azure.identity import aio as identity

    if kind == "cli":
        return identity.AzureCliCredential()
    if kind == "environment":
        return identity.EnvironmentCredential()
    if kind == "managed_identity":
        return identity.ManagedIdentityCredential()
    if kind == "workload_identity":
        return identity.WorkloadIdentityCredential()
    return identity.DefaultAzureCredential()


class AzureBackend(ActionsMixin, ResizeMixin, CreateMixin, MetricsMixin):
    """The VMs of the configured subscriptions (and resource groups), their actions
    (`ActionsMixin`), resize (`ResizeMixin`), creation from a template (`CreateMixin`) and
    Azure Monitor metrics (`MetricsMixin`)."""

    kind = "azure"

    def __init__(self, config: AzureSource, *, credential: AsyncTokenCredential,
                 read_only: bool = False, owns_credential: bool = False) -> None:
        self.config = config
        self.name = config.name
        self.read_only = read_only
        self.timeout_s = config.timeout_s
        self.operation_timeout_s = config.operation_timeout_s
        self.retries = config.retries
        self.operations = Operations()
        self._credential = credential
        self._owns_credential = owns_credential
        self._clients: dict[str, ComputeManagementClient] = {}
        self._subscriptions: list[str] = list(config.subscriptions)
        self._sizes: dict[tuple[str, str], tuple[float, dict[str, SizeSpec]]] = {}
        self._documents: dict[str, Any] = {}
        self._vms: tuple[VM, ...] = ()
        self._listing: asyncio.Future[tuple[VM, ...]] | None = None
        self.addresses = Addresses(config.addresses_refresh_s, config.resource_groups)

    @classmethod
    def from_source(cls, config: AzureSource, *, read_only: bool) -> AzureBackend:
        return cls(config, credential=make_credential(config.credential), read_only=read_only,
                   owns_credential=True)

    # -- clients -----------------------------------------------------------------------------

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments every ARM client of this source gets."""
        base = self.config.base_url
        return {
            "base_url": base,
            "credential_scopes": [f"{base}/.default"],
            "connection_verify": self.config.ca_bundle or True,
            "polling_interval": self.config.poll_interval_s,
            "retry_total": self.config.retries,
            "connection_timeout": self.timeout_s,
            "read_timeout": self.timeout_s,
        }

    async def compute(self, subscription: str) -> ComputeManagementClient:
        client = self._clients.get(subscription)
        if client is None:
            client = ComputeManagementClient(self._credential, subscription,
                                             **self.client_options())
            self._clients[subscription] = client
        return client

    async def subscription_ids(self) -> list[str]:
        """The configured subscriptions, or every one the credential can see."""
        if self._subscriptions:
            return self._subscriptions
        from azure.mgmt.resource.subscriptions.aio import SubscriptionClient

        async with SubscriptionClient(self._credential, **self.client_options()) as client:
            found = [s.subscription_id async for s in client.subscriptions.list()
                     if s.subscription_id]
        if not found:
            raise NovaError(Code.PERMISSION_DENIED, f"{self.name}: no subscription",
                            "the credential sees no subscription; list one under "
                            "`subscriptions`, or sign in as someone who has access")
        self._subscriptions = found
        return found

    # -- Backend -----------------------------------------------------------------------------

    async def vms(self) -> Sequence[VM]:
        """One listing at a time: the fleet asks `hosts()` and `vms()` together, and both are
        answered from the same ARM calls."""
        if self._listing is None or self._listing.done():
            self._listing = asyncio.ensure_future(self._list_vms())
        return await asyncio.shield(self._listing)

    async def _list_vms(self) -> tuple[VM, ...]:
        try:
            async with asyncio.timeout(self.timeout_s * 4):
                subs = await self.subscription_ids()
                listed, ips = await asyncio.gather(
                    asyncio.gather(*(self._list(sub) for sub in subs)),
                    self.addresses.refresh({sub: await self.compute(sub) for sub in subs}))
        except NovaError:
            raise
        except Exception as exc:
            raise translate(exc, f"list VMs of {self.name}", retries=self.retries) from exc
        documents = {doc["id"]: doc for docs in listed for doc in docs if doc.get("id")}
        sizes = await self._sizes_for(documents.values())
        vms: list[VM] = []
        items = list(documents.items())
        for start in range(0, len(items), BUILD_SLICE):
            if start:
                await asyncio.sleep(0)  # the keys and the screen between slices
            vms += [vm_from_arm(doc, backend=self.name, sizes=sizes,
                                addresses=ips.get(vm_id.lower(), ()))
                    for vm_id, doc in items[start:start + BUILD_SLICE]]
        self._documents = documents
        self._vms = tuple(vms)
        return self._vms

    async def hosts(self) -> Sequence[Host]:
        return hosts_of(await self.vms(), self.name)

    def last_seen(self, vm_id: str) -> Any:
        return self._documents.get(vm_id)

    def watch_operations(self, on_change: Listener) -> None:
        """Call `on_change(Operation)` when an action's operation starts, progresses, ends."""
        self.operations.listen(on_change)

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.close()
        if self._owns_credential:
            await self._credential.close()

    # -- listing -----------------------------------------------------------------------------

    async def _list(self, subscription: str) -> list[dict[str, Any]]:
        """Every VM document of one subscription (or of its listed resource groups), page by
        page through the client's own pipeline (sign-in, retries, ARM policies), read as JSON:
        the SDK's models cost more than the rest of a poll (module docstring of inventory)."""
        client = await self.compute(subscription)
        prefix = f"/subscriptions/{subscription}"
        vms = "providers/Microsoft.Compute/virtualMachines"
        if not self.config.resource_groups:
            firsts = [(f"{prefix}/{vms}", {"statusOnly": "true"})]
        else:
            firsts = [(f"{prefix}/resourceGroups/{group}/{vms}", {"$expand": "instanceView"})
                      for group in self.config.resource_groups]
        found: list[dict[str, Any]] = []
        for url, query in firsts:
            found += await arm.list_json(client, url, api_version=LIST_API_VERSION, query=query)
        return found

    async def _sizes_for(self, documents: Any) -> dict[str, SizeSpec]:
        """vCPU and memory per size name for every region the VMs are in (cached)."""
        wanted = {(doc["id"].split("/")[2], doc.get("location") or "") for doc in documents}
        merged: dict[str, SizeSpec] = {}
        now = time.monotonic()
        for key in sorted(wanted):
            try:
                merged.update(await self.region_sizes(*key, now=now))
            except Exception as exc:  # sizes are a nicety: the VMs still list
                log.warning("%s: no VM sizes for %s: %s", self.name, key[1], exc)
        return merged

    async def region_sizes(self, subscription: str, location: str, *,
                           now: float | None = None) -> dict[str, SizeSpec]:
        """The VM sizes of a region by lower-case name, cached for `size_cache_s`."""
        now = time.monotonic() if now is None else now
        key = (subscription, location)
        cached = self._sizes.get(key)
        if cached is None or now - cached[0] > self.config.size_cache_s:
            cached = self._sizes[key] = (now, await self._region_sizes(subscription, location))
        return cached[1]

    async def _region_sizes(self, subscription: str, location: str) -> dict[str, SizeSpec]:
        client = await self.compute(subscription)
        return dict([size_from_arm(s) async for s in
                     client.virtual_machine_sizes.list(location)])
