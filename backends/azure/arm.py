"""Plain ARM calls through a management client's own pipeline (sign-in, retries, ARM policies),
read and written as JSON.

The compute client only knows compute resources; a network interface is made, deleted and
listed here with the same pipeline (`send_request`), so no second SDK (azure-mgmt-network) is
needed for three requests. Long-running ones are followed by azure-core's own ARM poller, the
one every generated `begin_*` method uses.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from azure.core.exceptions import HttpResponseError
from azure.core.polling import AsyncLROPoller
from azure.core.rest import HttpRequest
from azure.mgmt.core.exceptions import ARMErrorFormat
from azure.mgmt.core.polling.async_arm_polling import AsyncARMPolling

NETWORK_API_VERSION = "2023-06-01"
"""Microsoft.Network api-version for interfaces and public IPs (what the recordings used)."""


def _pipeline_client(client: Any) -> Any:
    """The generated client's pipeline client, which azure-core's poller needs (it reads the
    transport from it to sleep between polls); every generated ARM client keeps it as `_client`."""
    return client._client  # the same object the SDK's own begin_* hand it


def _raise_for(response: Any, ok: tuple[int, ...]) -> None:
    if response.status_code not in ok:
        raise HttpResponseError(response=response, error_format=ARMErrorFormat)


async def get_json(client: Any, url: str, *, api_version: str,
                   ok: tuple[int, ...] = (200,)) -> tuple[int, Any]:
    """(status, body) of a GET; an unexpected status raises ARM's error."""
    response = await client.send_request(
        HttpRequest("GET", url, params={"api-version": api_version}))
    _raise_for(response, ok)
    return response.status_code, (response.json() if response.content else None)


async def list_json(client: Any, url: str, *, api_version: str,
                    query: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Every item of an ARM list, page after page (ARM's nextLink)."""
    found: list[dict[str, Any]] = []
    request: HttpRequest | None = HttpRequest(
        "GET", url, params={"api-version": api_version, **(query or {})})
    while request is not None:
        response = await client.send_request(request)
        _raise_for(response, (200,))
        page = response.json()
        found += page.get("value") or []
        next_link = page.get("nextLink")
        request = HttpRequest("GET", next_link) if next_link else None
    return found


async def begin(client: Any, method: str, url: str, *, api_version: str,
                body: Mapping[str, Any] | None = None,
                polling_interval: float = 10.0) -> AsyncLROPoller[Any]:
    """Send a PUT or DELETE and return azure-core's ARM poller for it (its result is the
    resource as JSON, or None after a delete)."""
    request = HttpRequest(method, url, params={"api-version": api_version},
                          json=dict(body) if body is not None else None)
    initial = await client.send_request(request, _return_pipeline_response=True)  # read whole
    _raise_for(initial.http_response, (200, 201, 202, 204))

    def result(pipeline_response: Any) -> Any:
        response = pipeline_response.http_response
        return json.loads(response.text()) if response.text() else None

    return AsyncLROPoller(_pipeline_client(client), initial, result,
                          AsyncARMPolling(polling_interval))
