"""Opt-in: the Azure backend against a real subscription. Runs only when AZURE_SUBSCRIPTION_ID
is set (and Azure's credential chain can sign in: `az login`, or AZURE_TENANT_ID /
AZURE_CLIENT_ID / AZURE_CLIENT_SECRET); otherwise it is reported as skipped. Read-only: it
lists, it never acts."""

from __future__ import annotations

import os

import pytest

from backends.azure.backend import AzureBackend
from backends.azure.source import AzureSource

SUBSCRIPTION = os.environ.get("AZURE_SUBSCRIPTION_ID", "")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(180),
    pytest.mark.skipif(not SUBSCRIPTION, reason="live Azure test: set AZURE_SUBSCRIPTION_ID "
                       "and sign in (az login or AZURE_CLIENT_ID/SECRET/TENANT_ID) to run it"),
]


async def test_lists_the_subscription_read_only() -> None:
    backend = AzureBackend.from_source(
        AzureSource(name="azure-live", subscriptions=[SUBSCRIPTION]), read_only=True)
    try:
        vms = await backend.vms()
        hosts = await backend.hosts()
    finally:
        await backend.close()
    prefix = f"/subscriptions/{SUBSCRIPTION}/".lower()
    assert all(vm.id.lower().startswith(prefix) for vm in vms)
    assert {vm.host for vm in vms} == {h.name for h in hosts}
