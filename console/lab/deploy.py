"""Put the planned guests on the lab hosts, and remove every guest from them.

A guest may have been migrated since the last `lab up`, so "already there" means "on any lab
host", not "on the host the plan first chose": re-running `lab up` never duplicates a guest.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import libvirt

from console.lab.guests import GuestSpec, domain_xml


def connect(uri: str, attempts: int = 50) -> libvirt.virConnect:
    """Open a host, retrying briefly: a just-started libvirtd may listen before it serves."""
    for attempt in range(attempts):
        try:
            return libvirt.open(uri)
        except libvirt.libvirtError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.1)
    raise AssertionError("unreachable")


def where_are(conns: Mapping[int, libvirt.virConnect]) -> dict[str, int]:
    """Guest name -> index of the host that has it defined or running."""
    found: dict[str, int] = {}
    for index, conn in conns.items():
        for dom in conn.listAllDomains():
            found.setdefault(dom.name(), index)
    return found


def ensure_guests(conns: Mapping[int, libvirt.virConnect], specs: Sequence[GuestSpec],
                  kernel: Path, initrd: Path, accel: str) -> list[str]:
    """Define and start what is missing, start what is defined but off; return all names."""
    placed = where_are(conns)
    for spec in specs:
        index = placed.get(spec.name, spec.host_index)
        conn = conns[index]
        if spec.name in placed:
            dom = conn.lookupByName(spec.name)
        else:
            dom = conn.defineXML(domain_xml(spec, kernel, initrd, accel))
        if not dom.isActive():
            dom.create()
    return [spec.name for spec in specs]


def _remove(dom: libvirt.virDomain) -> str:
    name = dom.name()
    if dom.isActive():
        dom.destroy()  # also ends a migration in flight
    with contextlib.suppress(libvirt.libvirtError):  # a transient one went with destroy
        dom.undefine()
    return name


def remove_all(conns: Iterable[libvirt.virConnect]) -> list[str]:
    """Destroy and undefine every domain on the lab hosts (all of them are the lab's).

    In parallel: QEMU takes a second or two to exit after SIGTERM, times a dozen guests.
    """
    domains = [dom for conn in conns for dom in conn.listAllDomains()]
    with ThreadPoolExecutor(max_workers=8) as pool:
        return sorted(pool.map(_remove, domains))


def running_count(conn: libvirt.virConnect) -> int:
    return len(conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE))
