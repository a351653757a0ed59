"""Capacity per region: running vCPUs against the account's on-demand vCPU quota.

EC2 limits vCPUs per region and account, not per zone: the quota "Running On-Demand Standard
(A, C, D, H, I, M, R, T, Z) instances" (L-1216C47A), read from Service Quotas. When Service
Quotas does not answer (no permission, not offered), the quota is unknown (None, shown as
"?"): never a made-up number.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from console.errors import NovaError

from .inventory import QUOTA_CODE

QUOTA_TTL_S = 3600.0


@dataclass(frozen=True, slots=True)
class RegionCapacity:
    profile: str
    region: str
    running_vcpus: int
    """vCPUs of running on-demand standard instances (what the quota counts)."""
    quota_vcpus: float | None
    """The account's quota in that region; None when Service Quotas did not say."""
    note: str = ""
    """Why the quota is unknown."""

    @property
    def headroom(self) -> float | None:
        return None if self.quota_vcpus is None else self.quota_vcpus - self.running_vcpus

    def line(self, *, with_profile: bool = False) -> str:
        """"eu-west-1 12/64 vCPU (52 free)", or "eu-west-1 12/? vCPU: <why>"."""
        where = f"{self.profile}:{self.region}" if with_profile else self.region
        if self.quota_vcpus is None:
            return f"{where} {self.running_vcpus}/? vCPU: {self.note or 'quota unknown'}"
        free = self.quota_vcpus - self.running_vcpus
        return (f"{where} {self.running_vcpus}/{self.quota_vcpus:g} vCPU "
                f"({f'{free:g} free' if free >= 0 else f'{-free:g} over'})")


class CapacityMixin:
    """Mixed into `AwsBackend`; relies on its `_api`, `clock` and sweeps."""

    clock: Callable[[], float]
    _api: Callable[..., Any]
    _shared_sweep: Callable[..., Any]

    def _init_capacity(self) -> None:
        self._quotas: dict[tuple[str, str], tuple[float, float | None, str]] = {}

    async def quota(self, profile: str, region: str) -> tuple[float | None, str]:
        """The on-demand standard vCPU quota (cached an hour), or None and why not."""
        cached = self._quotas.get((profile, region))
        if cached and self.clock() - cached[0] < QUOTA_TTL_S:
            return cached[1], cached[2]
        value: float | None = None
        note = ""
        try:
            answer = await self._api("service-quotas", profile, region, "get_service_quota",
                                     ServiceCode="ec2", QuotaCode=QUOTA_CODE)
            value = float(answer["Quota"]["Value"])
        except NovaError as exc:
            note = f"Service Quotas did not answer ({_short(exc.cause or exc.detail)})"
        except (KeyError, TypeError, ValueError):
            note = "Service Quotas answered without a value"
        self._quotas[(profile, region)] = (self.clock(), value, note)
        return value, note

    async def capacity(self, *, sweep: Any = None) -> list[RegionCapacity]:
        """Per (profile, region) of an inventory (by default a fresh one): running vCPUs vs
        the quota."""
        sweep = sweep or await self._shared_sweep()
        pairs = sorted(sweep.quota_vcpus.items())
        quotas = await asyncio.gather(*(self.quota(p, r) for (p, r), _ in pairs))  # 38 regions
        return [RegionCapacity(profile, region, running, value, note)
                for ((profile, region), running), (value, note) in zip(pairs, quotas, strict=True)]

    async def quotas(self) -> list[str]:
        """SupportsQuotas: the lines of the last inventory (none before the first; no new
        sweep is started for them)."""
        last = getattr(self, "_last", None)
        if last is None:
            return []
        several = getattr(self, "several_profiles", False)
        return [c.line(with_profile=several) for c in await self.capacity(sweep=last)]


def _short(text: str, limit: int = 90) -> str:
    """An SDK's error on one line, cut to fit beside the hosts table."""
    one = " ".join(str(text).split())
    return one if len(one) <= limit else one[:limit - 1] + "…"
