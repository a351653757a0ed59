"""The `lab` and `lab-prom` contexts are added to and removed from a user's config without
touching the rest."""

from __future__ import annotations

import tomllib
from pathlib import Path

from backends.prometheus.host_actions import HostActions
from backends.prometheus.source import PrometheusSource
from console.config import load_settings
from console.fleet.sources import build_backends
from console.lab import context

BLOCK = context.context_block(
    [("labhost1", "qemu+tcp://127.0.0.1:16511/system"),
     ("labhost2", "qemu+tcp://127.0.0.1:16512/system")],
    "http://127.0.0.1:19090",
)

USER_CONFIG = """\
# my fleet
default_context = "prod"

[contexts.prod]
read_only = true  # careful

[[contexts.prod.backends]]
kind = "libvirt"
name = "kvm-01"
uri = "qemu+ssh://root@kvm-01/system"

[ui]
theme = "novacron-dark"
"""


def test_new_file_holds_a_valid_lab_context(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "config.toml"
    assert context.write_context(path, BLOCK) is True
    settings, used = load_settings(path)
    assert used == path
    lab = settings.contexts["lab"]
    kinds = [(b.kind, b.name) for b in lab.backends]
    assert kinds == [("libvirt", "labhost1"), ("libvirt", "labhost2"), ("prometheus", "prometheus")]
    assert lab.backends[0].uri == "qemu+tcp://127.0.0.1:16511/system"  # type: ignore[union-attr]
    assert lab.backends[2].url == "http://127.0.0.1:19090"  # type: ignore[union-attr]


def test_lab_prom_takes_the_inventory_from_prometheus_and_acts_through_each_host(
        tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    context.write_context(path, BLOCK)
    settings, _ = load_settings(path)
    (source,) = settings.contexts["lab-prom"].backends
    assert isinstance(source, PrometheusSource)
    assert source.inventory and source.url == "http://127.0.0.1:19090"
    assert source.host_uris == {"labhost1": "qemu+tcp://127.0.0.1:16511/system",
                                "labhost2": "qemu+tcp://127.0.0.1:16512/system"}
    (backend,) = build_backends(settings.contexts["lab-prom"], read_only=False)
    assert isinstance(backend, HostActions) and backend.name == "prometheus"


def test_without_prometheus_there_is_no_lab_prom(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    context.write_context(path, context.context_block([("labhost1", "qemu:///system")], None))
    assert context.has_context(path) and not context.has_context(path, "lab-prom")


def test_existing_content_and_comments_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(USER_CONFIG)
    assert context.write_context(path, BLOCK) is False
    text = path.read_text()
    assert text.startswith(USER_CONFIG.rstrip("\n"))
    assert "read_only = true  # careful" in text
    settings, _ = load_settings(path)
    assert set(settings.contexts) == {"prod", "lab", "lab-prom"}
    assert settings.default_context == "prod"


def test_writing_twice_replaces_rather_than_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(USER_CONFIG)
    context.write_context(path, BLOCK)
    smaller = context.context_block([("labhost1", "qemu+tcp://127.0.0.1:16511/system")], None)
    context.write_context(path, smaller)
    data = tomllib.loads(path.read_text())
    assert [b["name"] for b in data["contexts"]["lab"]["backends"]] == ["labhost1"]
    assert "lab-prom" not in data["contexts"]  # no Prometheus this time: its context goes
    assert path.read_text().count("[contexts.lab]") == 1
    context.write_context(path, BLOCK)
    context.write_context(path, BLOCK)
    assert path.read_text().count("[contexts.lab-prom]") == 1


def test_a_lab_context_the_user_wrote_by_hand_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(USER_CONFIG + '\n[ contexts."lab" ]\ntheme = "x"\n\n[[contexts.lab.backends]]\n'
                    'kind = "libvirt"\nname = "old"\nuri = "qemu:///system"\n\n[keys]\n'
                    '"vm.force_off" = "F"\n')
    context.write_context(path, BLOCK)
    data = tomllib.loads(path.read_text())
    assert "theme" not in data["contexts"]["lab"]
    assert data["keys"] == {"vm.force_off": "F"}


def test_remove_restores_the_users_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(USER_CONFIG)
    context.write_context(path, BLOCK)
    context.remove_context(path, delete_if_empty=False)
    assert path.read_text() == USER_CONFIG
    assert not context.has_context(path)
    assert not context.has_context(path, "lab-prom")


def test_remove_deletes_a_file_only_the_lab_wrote(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    created = context.write_context(path, BLOCK)
    context.remove_context(path, delete_if_empty=created)
    assert not path.exists()


def test_remove_keeps_a_created_file_the_user_has_since_edited(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    created = context.write_context(path, BLOCK)
    path.write_text('[ui]\ntheme = "mine"\n\n' + path.read_text())
    context.remove_context(path, delete_if_empty=created)
    assert tomllib.loads(path.read_text()) == {"ui": {"theme": "mine"}}


def test_invalid_toml_is_refused_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("this is = = not toml\n")
    try:
        context.write_context(path, BLOCK)
    except ValueError as exc:
        assert "not valid TOML" in str(exc)
    else:
        raise AssertionError("expected a ValueError")
    assert path.read_text() == "this is = = not toml\n"


def test_file_mode_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(USER_CONFIG)
    path.chmod(0o600)
    context.write_context(path, BLOCK)
    assert path.stat().st_mode & 0o777 == 0o600
