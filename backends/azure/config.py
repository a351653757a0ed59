"""The `azure` kind's config entry. Light (pydantic only): both `source.py` (the kind) and
`backend.py` (the SDK side) use it, so it lives apart from either.

Sign-in follows Azure's own credential chain (`DefaultAzureCredential`: environment variables,
workload identity, managed identity, the `az login` session…), so the config names no secret;
`credential` narrows the chain to one link when an operator wants exactly one.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from backends.base import SourceConfig

PUBLIC_ARM = "https://management.azure.com"

CredentialKind = Literal["default", "cli", "environment", "managed_identity", "workload_identity"]


class AzureSource(SourceConfig):
    """Azure virtual machines of one or more subscriptions, through Azure Resource Manager."""

    kind: Literal["azure"] = "azure"
    name: str = Field("azure", min_length=1, description="Name shown for this source.")
    subscriptions: list[str] = Field(default_factory=list, description=(
        "Subscription ids to list; empty: every subscription the credential can see."))
    resource_groups: list[str] = Field(default_factory=list, description=(
        "Only these resource groups (in every listed subscription); empty: all of them."))
    credential: CredentialKind = Field("default", description=(
        "Which sign-in to use: `default` is Azure's whole chain (environment, workload and "
        "managed identity, `az login`…); the others use that one link only."))
    base_url: str = Field(PUBLIC_ARM, description=(
        "Azure Resource Manager endpoint (sovereign clouds, or a test server)."))
    ca_bundle: str | None = Field(None, description=(
        "PEM file of CAs to trust for `base_url` (a private endpoint, the tests' CA)."))
    timeout_s: float = Field(30.0, gt=0, description="Per-call timeout in seconds.")
    poll_interval_s: float = Field(10.0, gt=0, description=(
        "How often a long-running operation is polled when Azure does not say (Retry-After)."))
    operation_timeout_s: float = Field(1800.0, gt=0, description=(
        "How long an action (start, power off, deallocate…) is followed before giving up "
        "watching; the operation itself goes on in Azure."))
    retries: int = Field(4, ge=0, le=10, description=(
        "Retries of a throttled (429) or failed request before reporting it."))
    metrics_endpoint: str = Field("https://{region}.metrics.monitor.azure.com", description=(
        "Azure Monitor metrics endpoint; `{region}` is the VMs' region."))
    addresses_refresh_s: float = Field(60.0, ge=0, description=(
        "How often the VMs' IP addresses are listed again (two list calls per subscription: "
        "network interfaces and public IPs); 0: on every poll."))
    size_cache_s: float = Field(6 * 3600.0, gt=0, description=(
        "How long a region's VM sizes (vCPUs, memory) are kept before being asked again."))

    @field_validator("base_url")
    @classmethod
    def _https(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.netloc:
            raise ValueError(f"base_url {value!r} must be an https:// URL (Azure sends bearer "
                             "tokens only over TLS), e.g. https://management.azure.com")
        return value.rstrip("/")

    @field_validator("metrics_endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        if not value.startswith("https://") or "{region}" not in value:
            raise ValueError(f"metrics_endpoint {value!r} must be an https:// template with "
                             "{region}, e.g. https://{region}.metrics.monitor.azure.com")
        return value

    @property
    def serves_metrics(self) -> bool:
        return True

    @field_validator("subscriptions")
    @classmethod
    def _subscription_ids(cls, value: list[str]) -> list[str]:
        for sub in value:
            if not sub.strip() or "/" in sub:
                raise ValueError(f"subscription {sub!r} is not a subscription id; write the "
                                 "GUID (`az account list -o table` shows them)")
        return value
