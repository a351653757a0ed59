"""One inventory sweep put together from its (profile, region) listings (pure, no I/O).

A pair that failed this time does not make the whole source stale: its instances and zones
from its last good listing are kept, marked stale with their age, and its zones carry the
error naming the pair (the hosts screen shows it); a pair never listed shows as one stale
host named after it. Only when every pair fails does the sweep fail (the fleet then marks the
source stale with that error).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from console.models import VM, Host, HostState

from .ids import host_name
from .inventory import hosts_from

Pair = tuple[str, str]


@dataclass(frozen=True, slots=True)
class RegionListing:
    vms: list[VM]
    quota_vcpus: int
    listed: set[str]
    """Every instance id DescribeInstances returned (terminated ones that faded out too)."""
    zones: list[str]
    """The region's availability zones (hosts even when empty: a new VM can go there)."""


@dataclass(frozen=True, slots=True)
class Sweep:
    vms: tuple[VM, ...]
    hosts: tuple[Host, ...]
    quota_vcpus: dict[Pair, int]
    """Running on-demand standard vCPUs per (profile, region) listed this time: what
    L-1216C47A limits."""
    finished: float
    places: dict[str, tuple[str, str, str]] = dataclasses.field(default_factory=dict)
    """Host name → (profile, region, zone)."""
    listed: frozenset[str] = frozenset()
    failed: dict[Pair, str] = dataclasses.field(default_factory=dict)
    """The pairs that did not answer this time, and why."""


def assemble(backend: str, pairs: Sequence[Pair], fresh: Mapping[Pair, RegionListing],
             kept: Mapping[Pair, tuple[RegionListing, float]], failed: Mapping[Pair, str], *,
             several_profiles: bool, now: float) -> Sweep:
    """The sweep of `pairs`: `fresh` listings, and for each `failed` pair its `kept` last good
    listing (with when it was made), shown stale."""
    vms: list[VM] = []
    places: dict[str, tuple[str, str, str]] = {}
    listed: set[str] = set()
    stale_hosts: dict[str, tuple[float, str]] = {}
    for profile, region in pairs:
        pair = (profile, region)
        listing = fresh.get(pair)
        age = 0.0
        if listing is None and pair in kept:
            listing, when = kept[pair]
            age = max(0.0, now - when)
        if listing is None:
            continue
        why = failed.get(pair, "")
        vms += [dataclasses.replace(vm, stale=True, age_s=age) for vm in listing.vms] if why \
            else listing.vms
        listed |= listing.listed
        for zone in listing.zones:
            places[host_name(profile, zone, several_profiles=several_profiles)] = (profile, region, zone)
        for vm in listing.vms:  # a dedicated host (h-…): its region, EC2 chooses the zone
            places.setdefault(vm.host, (profile, region, ""))
        if why:
            stale_hosts.update({h: (age, why) for h, place in places.items()
                                if place[:2] == pair})
    regions = {h: place[1] for h, place in places.items()}
    hosts = [dataclasses.replace(h, state=HostState.STALE, stale=True, age_s=stale_hosts[h.name][0],
                                 error=stale_hosts[h.name][1])
             if h.name in stale_hosts else h
             for h in hosts_from(vms, backend=backend, regions=regions)]
    for (profile, region), why in failed.items():
        if (profile, region) not in kept:
            name = host_name(profile, region, several_profiles=several_profiles)
            hosts.append(Host(id=f"{backend}/{name}", name=name, backend=backend,
                              hypervisor="EC2", state=HostState.STALE, stale=True, error=why,
                              datacenter=region))
    quota = {pair: listing.quota_vcpus for pair, listing in fresh.items()}
    return Sweep(tuple(vms), tuple(hosts), quota, now, places, frozenset(listed), dict(failed))

