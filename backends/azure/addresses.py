"""Private and public IP addresses of the listed VMs, at two list calls per subscription.

ARM keeps addresses out of the VM document: a VM names its network interfaces, an interface
holds private addresses and names its public IP resources, which hold the public addresses.
Asking per VM would cost one call per interface and per public IP; instead every interface
and every public IP address of a subscription (or of each listed resource group) is listed in
bulk, page by page through the compute client's own pipeline, and joined by resource id.

IPs change rarely (a deallocate can change a dynamic public IP), so the two lists are asked
at most every `refresh_s` seconds (60 by default; 0: every poll) and the last join is served
in between. A failure (no read right on Microsoft.Network, say) keeps the last addresses and
never stales the inventory.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from console.sanitize import clean

from . import arm

log = logging.getLogger(__name__)

Json = Mapping[str, Any]


def join(interfaces: Iterable[Json], public_ips: Iterable[Json]) -> dict[str, tuple[str, ...]]:
    """VM resource id (lower case) → its addresses: the primary interface first, in each
    interface its primary configuration first, private before public."""
    public = {str(ip.get("id") or "").lower(): str((ip.get("properties") or {})
                                                   .get("ipAddress") or "")
              for ip in public_ips}
    per_vm: dict[str, list[tuple[bool, list[str]]]] = {}
    for nic in interfaces:
        props = nic.get("properties") or {}
        vm_id = str((props.get("virtualMachine") or {}).get("id") or "").lower()
        if not vm_id:
            continue  # an interface no VM uses
        found: list[str] = []
        configs = sorted(props.get("ipConfigurations") or (),
                         key=lambda c: not (c.get("properties") or {}).get("primary"))
        for config in configs:
            cp = config.get("properties") or {}
            found.append(str(cp.get("privateIPAddress") or ""))
            found.append(public.get(str((cp.get("publicIPAddress") or {}).get("id") or "")
                                    .lower(), ""))
        per_vm.setdefault(vm_id, []).append((bool(props.get("primary")), found))
    return {vm_id: tuple(dict.fromkeys(clean(a) for _p, found in
                                       sorted(nics, key=lambda n: not n[0])
                                       for a in found if a))
            for vm_id, nics in per_vm.items()}


class Addresses:
    """The joined addresses of every subscription, refreshed at most every `refresh_s`."""

    def __init__(self, refresh_s: float, resource_groups: Sequence[str] = ()) -> None:
        self.refresh_s = refresh_s
        self.resource_groups = list(resource_groups)
        self.by_vm: dict[str, tuple[str, ...]] = {}
        self._at = float("-inf")

    def _scopes(self, subscription: str) -> list[str]:
        prefix = f"/subscriptions/{subscription}"
        if not self.resource_groups:
            return [prefix]
        return [f"{prefix}/resourceGroups/{group}" for group in self.resource_groups]

    async def refresh(self, clients: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
        """The addresses by VM id, listed anew when the last listing is older than
        `refresh_s`; the last ones when listing fails."""
        now = time.monotonic()
        if now - self._at < self.refresh_s:
            return self.by_vm
        try:
            lists = await asyncio.gather(*(
                arm.list_json(client, f"{scope}/providers/Microsoft.Network/{kind}",
                              api_version=arm.NETWORK_API_VERSION)
                for sub, client in clients.items() for scope in self._scopes(sub)
                for kind in ("networkInterfaces", "publicIPAddresses")))
        except Exception as exc:  # addresses are a nicety: the VMs still list
            log.warning("no IP addresses listed (kept the last ones): %s", exc)
            return self.by_vm
        interfaces = [nic for found in lists[0::2] for nic in found]
        public_ips = [ip for found in lists[1::2] for ip in found]
        self.by_vm = join(interfaces, public_ips)
        self._at = now
        return self.by_vm
