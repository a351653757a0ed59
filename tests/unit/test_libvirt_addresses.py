"""Guest addresses from DHCP leases, read through libvirt's test driver (real libvirt API).

The oracle is the demo host's own XML: the network's subnet and each domain's NIC and state.
"""

from __future__ import annotations

import ipaddress
import xml.etree.ElementTree as ET
from pathlib import Path

import libvirt
import pytest

from backends.libvirt.addresses import AddressBook, addresses_from_reply
from backends.libvirt.backend import LibvirtBackend
from backends.libvirt.events import silence_default_error_handler
from console import demo
from console.models import VMState

pytestmark = pytest.mark.timeout(60)
silence_default_error_handler()

HOST = demo.host_files()[0]


def subnet_of(path: Path) -> ipaddress.IPv4Network:
    ip = ET.parse(path).getroot().find("./network/ip")
    assert ip is not None, f"{path.name} defines no network"
    return ipaddress.ip_network(f"{ip.get('address')}/{ip.get('netmask')}", strict=False)


async def test_running_demo_vms_show_an_address_in_their_hosts_subnet_and_stopped_ones_none() -> None:
    backend = LibvirtBackend(HOST.stem, f"test://{HOST}")
    try:
        vms = await backend.vms()
    finally:
        await backend.close()
    subnet = subnet_of(HOST)
    running = [vm for vm in vms if vm.state in (VMState.RUNNING, VMState.PAUSED)]
    assert running, "the demo host should have running VMs"
    for vm in running:
        assert vm.addresses and all(ipaddress.ip_address(a) in subnet for a in vm.addresses), vm
    assert len({vm.addresses for vm in running}) == len(running), "each guest has its own lease"
    for vm in vms:
        if vm.state is VMState.STOPPED:
            assert vm.addresses == (), vm


def test_a_poll_asks_at_most_its_budget_and_the_rest_come_on_later_polls() -> None:
    conn = libvirt.open(f"test://{HOST}")
    try:
        doms = [d for d in conn.listAllDomains() if d.isActive()]
        book = AddressBook(per_poll=2, refresh_s=3600)
        alive = {d.UUIDString() for d in doms}

        def poll() -> int:
            book.new_poll(alive)
            return sum(bool(book.addresses(d, d.UUIDString(), running=True, has_nic=True))
                       for d in doms)

        n = len(doms)
        assert n > 4, "the demo host should have more running VMs than two polls' budget"
        polls = -(-n // 2)
        assert [poll() for _ in range(polls)] == [min(2 * k, n) for k in range(1, polls + 1)]
        assert poll() == n  # all known, and kept while fresh
    finally:
        conn.close()


def test_cached_addresses_are_forgotten_when_the_guest_stops_or_goes() -> None:
    conn = libvirt.open(f"test://{HOST}")
    try:
        dom = next(d for d in conn.listAllDomains() if d.isActive())
        uuid = dom.UUIDString()
        book = AddressBook()
        book.new_poll({uuid})
        assert book.addresses(dom, uuid, running=True, has_nic=True)
        assert book.addresses(dom, uuid, running=False, has_nic=True) == ()
        book.new_poll(set())
        assert book.addresses(dom, uuid, running=True, has_nic=False) == ()
    finally:
        conn.close()


def test_reply_parsing_orders_ipv4_first_and_drops_loopback_and_junk() -> None:
    reply = {
        "eth0": {"addrs": [{"addr": "fe80::1", "prefix": 64, "type": 1},
                           {"addr": "10.0.0.9", "prefix": 24, "type": 0}]},
        "lo": {"addrs": [{"addr": "127.0.0.1", "prefix": 8, "type": 0}]},
        "evil": {"addrs": [{"addr": "10.0.0.1\x1b[31m", "prefix": 24, "type": 0},
                           {"addr": "10.0.0.9", "prefix": 24, "type": 0}]},
    }
    assert addresses_from_reply(reply) == ("10.0.0.9", "fe80::1")
    assert addresses_from_reply({}) == ()
