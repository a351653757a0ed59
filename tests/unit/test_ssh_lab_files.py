"""The lab's ssh files and `lab-ssh` context: every host behind the bastion, strict checking,
and a context the console can open (validated, registry-opened without I/O)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from backends import registry
from backends.libvirt.tunnel import SshTunnel
from backends.ssh.sshconfig import chain
from console.config import Context
from console.lab import context
from console.lab.bastion import BastionLayout
from console.lab.layout import LabLayout
from console.lab.ssh_access import known_hosts_text, ssh_config_text


def lab_files(tmp_path: Path) -> tuple[LabLayout, BastionLayout, Path]:
    layout = LabLayout(root=tmp_path, port_offset=300)
    bastion = BastionLayout(tmp_path, 300)
    known = tmp_path / "known_hosts"
    known.write_text(known_hosts_text([(bastion.ssh_port, "ssh-ed25519 AAAA")]))
    config = tmp_path / "config"
    config.write_text(ssh_config_text(bastion, [layout.host(1), layout.host(2)],
                                      tmp_path / "id_ed25519", known))
    return layout, bastion, config


def test_every_host_is_reached_through_the_bastion(tmp_path: Path) -> None:
    layout, bastion, config = lab_files(tmp_path)
    hops = chain("labhost2", [config])
    assert [(h.alias, h.port, h.user) for h in hops] == [
        ("lab-bastion", bastion.ssh_port, "root"), ("labhost2", layout.host(2).ssh_port, "root")]
    assert hops[0].known_hosts == (tmp_path / "known_hosts", )
    assert bastion.ssh_port == 2520 and layout.host(1).ssh_port == 2521


def test_the_lab_ssh_context_opens_one_tunnelled_libvirt_source_per_host(tmp_path: Path) -> None:
    layout, _, config = lab_files(tmp_path)
    hosts = [(h.name, h.uri) for h in (layout.host(1), layout.host(2))]
    block = context.context_block(hosts, "http://127.0.0.1:19390", ssh_config=str(config))
    data = tomllib.loads(block)["contexts"]
    assert set(data) == {"lab", "lab-prom", "lab-ssh"}
    ctx = Context.model_validate(data["lab-ssh"])
    backends = [registry.kind(s.kind).open(s, read_only=True) for s in ctx.backends
                if s.lists_inventory]
    libvirt = [b for b in backends if b.kind == "libvirt"]
    assert [(b.name, b.uri) for b in libvirt] == hosts  # the peers' URI: migration targets
    assert all(isinstance(b.transport, SshTunnel) for b in libvirt)  # type: ignore[attr-defined]
    assert [b.transport.link.name for b in libvirt] == ["labhost1", "labhost2"]  # type: ignore[attr-defined]


def test_lab_ssh_goes_with_the_other_lab_contexts(tmp_path: Path) -> None:
    layout, _, config = lab_files(tmp_path)
    block = context.context_block([("labhost1", layout.host(1).uri)], None, ssh_config=str(config))
    path = tmp_path / "config.toml"
    context.write_context(path, block)
    assert context.has_context(path, "lab-ssh")
    context.remove_context(path, delete_if_empty=True)
    assert not path.exists()
