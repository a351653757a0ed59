"""Lab hosts differ where libvirt needs them to (UUID, ports) and guests carry console tags."""

from __future__ import annotations

import json
from pathlib import Path

from backends.libvirt.parse import domain_details
from console.lab import configs
from console.lab.guests import domain_xml, plan
from console.lab.layout import LabLayout
from console.lab.namespace import setup_script


def test_hosts_are_distinct() -> None:
    lab = LabLayout(root=Path("/tmp/lab"))
    hosts = [lab.host(i) for i in (1, 2, 3)]
    assert len({h.host_uuid for h in hosts}) == 3
    ports = [p for h in hosts for p in (h.libvirt_port, h.ssh_port, h.exporter_port)]
    assert len(set(ports)) == len(ports)
    ranges = [set(range(h.migration_ports[0], h.migration_ports[1] + 1)) for h in hosts]
    assert not (ranges[0] & ranges[1]) and not (ranges[1] & ranges[2])
    assert hosts[1].uri == "qemu+tcp://127.0.0.1:16512/system"
    assert hosts[1].migrate_uri == f"tcp://127.0.0.1:{hosts[1].migration_ports[0]}"
    assert lab.host(1).host_uuid == LabLayout(root=Path("/elsewhere")).host(1).host_uuid


def test_port_offset_moves_every_port() -> None:
    base, shifted = LabLayout().host(1), LabLayout(port_offset=100).host(1)
    assert shifted.libvirt_port == base.libvirt_port + 100
    assert shifted.exporter_port == base.exporter_port + 100
    assert LabLayout(port_offset=100).prometheus_port == LabLayout().prometheus_port + 100


def test_bind_sources_are_distinct_and_inside_the_host_dir() -> None:
    host = LabLayout(root=Path("/tmp/lab")).host(2)
    sources = host.bind_sources()
    assert set(sources) == {"/var/lib/libvirt", "/etc/libvirt", "/var/log/libvirt",
                            "/var/cache/libvirt"}
    assert len(set(sources.values())) == 4
    assert all(s.parent == host.state_dir for s in sources.values())
    assert LabLayout(root=Path("/tmp/lab")).images_dir not in sources.values()


def test_daemon_configs_carry_the_host_identity() -> None:
    host = LabLayout().host(2)
    conf = configs.libvirtd_conf(host)
    assert f'host_uuid = "{host.host_uuid}"' in conf
    assert f'tcp_port = "{host.libvirt_port}"' in conf
    assert 'listen_addr = "127.0.0.1"' in conf
    qemu = configs.qemu_conf(host)
    assert f"migration_port_min = {host.migration_ports[0]}" in qemu
    assert 'security_driver = "none"' in qemu
    sshd = configs.sshd_config(host, "/k/authorized_keys")
    assert f"Port {host.ssh_port}" in sshd and "ListenAddress 127.0.0.1" in sshd


def test_prometheus_config_names_instances_after_hosts() -> None:
    lab = LabLayout()
    text = configs.prometheus_yml([lab.host(1), lab.host(2)])
    data = json.loads(text)  # JSON is the YAML subset the lab writes
    targets = data["scrape_configs"][0]["static_configs"]
    assert [t["labels"]["instance"] for t in targets] == ["labhost1", "labhost2"]
    assert targets[1]["targets"] == [f"127.0.0.1:{lab.host(2).exporter_port}"]
    assert data["global"]["scrape_interval"] == "2s"


def test_plan_deals_guests_round_robin() -> None:
    guests = plan(3, 4)
    assert [g.name for g in guests[:3]] == ["lab-vm-01", "lab-vm-02", "lab-vm-03"]
    assert [g.host_index for g in guests] == [1, 2, 3] * 4
    assert len({g.name for g in guests}) == 12


def test_domain_xml_tags_are_what_the_console_reads() -> None:
    guest = plan(1, 1)[0]
    xml = domain_xml(guest, Path("/img/vmlinuz"), Path("/img/initrd.img"), "qemu")
    details = domain_details(xml)
    assert details.tags == ("env=lab", "role=web")
    assert details.vcpus == 1
    assert details.memory_bytes == 128 * 1024 * 1024
    assert "<domain type='qemu'>" in xml


def test_namespace_setup_refuses_to_run_outside_its_namespace() -> None:
    host = LabLayout(root=Path("/tmp/lab")).host(1)
    script = setup_script(host, "mnt:[1]", "uts:[2]")
    lines = script.splitlines()
    guard = next(i for i, line in enumerate(lines) if "mnt:[1]" in line)
    first_mount = next(i for i, line in enumerate(lines) if line.startswith(("mount ", "hostname")))
    assert guard < first_mount and "exit 97" in lines[guard]
    assert "uts:[2]" in script
