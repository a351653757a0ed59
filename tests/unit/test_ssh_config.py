"""ssh config resolution: ProxyJump chains hop by hop, and configs that switch host key
checking off refused with the setting and the file named (asyncssh's own parser)."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.ssh.sshconfig import chain, config_paths, resolve
from console.errors import Code, NovaError


def write(tmp_path: Path, text: str) -> list[Path]:
    path = tmp_path / "config"
    path.write_text(text)
    (tmp_path / "known_hosts").write_text("")
    return [path]


BASE = """
Host *
    UserKnownHostsFile {kh}
    IdentityFile ~/.ssh/id_ops

Host bastion-a
    HostName 10.0.0.1
    User jump
Host bastion-b
    HostName 10.0.0.2
    Port 2222
    ProxyJump bastion-a
Host kvm-fra-01
    HostName 10.1.0.11
    User ops
    ProxyJump bastion-b
    ServerAliveInterval 7
    ServerAliveCountMax 4
    ConnectTimeout 9
Host kvm-list
    HostName 10.1.0.12
    ProxyJump bastion-a,ops@10.0.0.3:2200
Host direct
    HostName 10.1.0.13
Host loop-a
    ProxyJump loop-b
Host loop-b
    ProxyJump loop-a
"""


@pytest.fixture
def paths(tmp_path: Path) -> list[Path]:
    return write(tmp_path, BASE.format(kh=tmp_path / "known_hosts"))


def test_a_jump_hosts_own_proxyjump_is_followed(paths: list[Path]) -> None:
    hops = chain("kvm-fra-01", paths)
    assert [(h.alias, h.hostname, h.port, h.user) for h in hops] == [
        ("bastion-a", "10.0.0.1", 22, "jump"),
        ("bastion-b", "10.0.0.2", 2222, None),
        ("kvm-fra-01", "10.1.0.11", 22, "ops"),
    ]
    target = hops[-1]
    assert (target.keepalive_interval_s, target.keepalive_count, target.connect_timeout_s) == (7, 4, 9)
    assert hops[0].keepalive_interval_s == 5  # the console's default when the config is silent


def test_a_proxyjump_list_is_a_chain_of_specs(paths: list[Path]) -> None:
    hops = chain("kvm-list", paths)
    assert [(h.alias, h.hostname, h.port, h.user) for h in hops] == [
        ("bastion-a", "10.0.0.1", 22, "jump"),
        ("10.0.0.3", "10.0.0.3", 2200, "ops"),
        ("kvm-list", "10.1.0.12", 22, None),
    ]


def test_no_proxyjump_is_one_hop(paths: list[Path]) -> None:
    assert [h.alias for h in chain("direct", paths)] == ["direct"]


def test_a_proxyjump_loop_is_an_error(paths: list[Path]) -> None:
    with pytest.raises(NovaError) as caught:
        chain("loop-a", paths)
    assert caught.value.kind is Code.CONFIG_INVALID and "loop" in str(caught.value)


@pytest.mark.parametrize("line", ["StrictHostKeyChecking no", "StrictHostKeyChecking=off",
                                  "UserKnownHostsFile /dev/null", "UserKnownHostsFile none"])
def test_settings_that_disable_checking_are_refused(tmp_path: Path, line: str) -> None:
    paths = write(tmp_path, f"Host kvm\n    HostName 10.0.0.9\n    {line}\n")
    with pytest.raises(NovaError) as caught:
        resolve("kvm", paths)
    text = str(caught.value)
    assert caught.value.kind is Code.CONFIG_INVALID
    assert "disables host key checking" in text and str(paths[0]) in text


def test_accept_new_is_not_refused_and_never_auto_accepts(tmp_path: Path) -> None:
    """`accept-new` keeps checking known keys; the console never adds keys by itself."""
    paths = write(tmp_path, "Host kvm\n    StrictHostKeyChecking accept-new\n")
    assert resolve("kvm", paths).alias == "kvm"


def test_proxycommand_is_refused_for_proxyjump(tmp_path: Path) -> None:
    paths = write(tmp_path, "Host kvm\n    ProxyCommand ssh -W %h:%p bastion\n")
    with pytest.raises(NovaError) as caught:
        resolve("kvm", paths)
    assert "use ProxyJump" in str(caught.value)


def test_a_block_for_another_host_does_not_refuse_this_one(tmp_path: Path) -> None:
    paths = write(tmp_path, "Host lab-*\n    StrictHostKeyChecking no\nHost kvm\n    HostName 10.0.0.9\n")
    assert resolve("kvm", paths).hostname == "10.0.0.9"


def test_known_hosts_files_default_like_openssh(tmp_path: Path) -> None:
    hop = resolve("anything", write(tmp_path, ""))
    assert hop.known_hosts[0] == Path("~/.ssh/known_hosts").expanduser()
    assert Path("/etc/ssh/ssh_known_hosts") in hop.known_hosts


def test_a_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(NovaError) as caught:
        config_paths(str(tmp_path / "nope"))
    assert "no such file" in str(caught.value)
