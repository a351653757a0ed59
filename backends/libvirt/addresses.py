"""Guest IP addresses, from the host's DHCP leases, fetched sparingly and cached.

libvirt has no bulk call for addresses: `interfaceAddresses` is one round trip per domain.
Doing that for every domain on every poll would multiply a host's poll cost by its VM count,
so each running domain with a NIC is asked at most once per `refresh_s`, and at most
`per_poll` domains are asked in one poll (the rest wait for the next one). Leases come from
libvirt's own dnsmasq on the host: no guest agent needed, no call into the guest.
A domain whose network has no leases (or a host whose driver cannot say) is remembered as
"no addresses" for the same interval, so it costs one call per interval, not one per poll.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import libvirt

from console.sanitize import clean

REFRESH_S = 60.0
PER_POLL = 32
SOURCE = libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE


def addresses_from_reply(reply: dict[str, dict[str, object]]) -> tuple[str, ...]:
    """The addresses of one `interfaceAddresses` reply: IPv4 first, loopback and junk dropped."""
    found: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for iface in (reply or {}).values():
        for entry in iface.get("addrs") or ():  # type: ignore[attr-defined]
            try:
                address = ipaddress.ip_address(str(entry.get("addr", "")))
            except ValueError:
                continue  # a host answered something that is not an address: leave it out
            if not address.is_loopback and address not in found:
                found.append(address)
    found.sort(key=lambda a: (a.version, a))
    return tuple(clean(str(a)) for a in found)


@dataclass
class AddressBook:
    """Addresses per domain UUID, each with the time it was read."""

    refresh_s: float = REFRESH_S
    per_poll: int = PER_POLL
    clock: Callable[[], float] = time.monotonic
    _known: dict[str, tuple[float, tuple[str, ...]]] = field(default_factory=dict)
    _budget: int = 0

    def new_poll(self, alive: set[str]) -> None:
        """Start a poll: reset the call budget and forget domains that are gone."""
        self._budget = self.per_poll
        for gone in self._known.keys() - alive:
            del self._known[gone]

    def addresses(self, dom: libvirt.virDomain, uuid: str, *, running: bool,
                  has_nic: bool) -> tuple[str, ...]:
        """The domain's addresses, read now if the cached ones are old and the budget allows."""
        if not (running and has_nic):
            self._known.pop(uuid, None)  # a guest that stops gives its lease up
            return ()
        now = self.clock()
        cached = self._known.get(uuid)
        if cached is not None and now - cached[0] < self.refresh_s:
            return cached[1]
        if self._budget <= 0:
            return cached[1] if cached else ()
        self._budget -= 1
        try:
            found = addresses_from_reply(dom.interfaceAddresses(SOURCE, 0))
        except libvirt.libvirtError:
            found = ()  # no leases on this network, or the driver cannot say: ask again later
        self._known[uuid] = (now, found)
        return found
