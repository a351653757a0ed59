"""Configuration as an operator meets it: mistakes name the key, the file and line, and a fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.libvirt.source import LibvirtSource
from console import demo
from console.config import (
    DEMO_CONTEXT,
    ConfigError,
    load_settings,
    resolve_context,
)
from console.errors import Code


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("NOVACRON_"):
            monkeypatch.delenv(name)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text.lstrip(), encoding="utf-8")
    return path


GOOD = """
default_context = "lab"

[ui]
theme = "novacron-dark"

[contexts.lab]
read_only = true
poll_interval_s = 3

[[contexts.lab.backends]]
kind = "libvirt"
name = "kvm1"
uri = "qemu+ssh://root@kvm1/system"

[contexts.prod]
production = true
"""


def test_good_file_loads(tmp_path: Path) -> None:
    settings, used = load_settings(write(tmp_path, GOOD))
    assert used == tmp_path / "config.toml"
    name, ctx = resolve_context(settings, None)
    assert name == "lab"
    assert ctx.read_only and ctx.poll_interval_s == 3
    assert ctx.backends == [LibvirtSource(name="kvm1", uri="qemu+ssh://root@kvm1/system")]


def test_unknown_key_names_key_file_line_and_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, """
[contexts.lab]
pol_interval_s = 3

[[contexts.lab.backends]]
kind = "libvirt"
name = "kvm1"
uri = "qemu:///system"
timout_s = 3
""")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    err = info.value
    assert err.kind is Code.CONFIG_INVALID
    text = str(err)
    assert "NOVA-1001" in text
    assert f"{path}:2: unknown key 'contexts.lab.pol_interval_s': did you mean 'poll_interval_s'?" in text
    assert f"{path}:8: unknown key" in text and "timout_s" in text and "did you mean 'timeout_s'?" in text


def test_unknown_top_level_table(tmp_path: Path) -> None:
    path = write(tmp_path, 'default_context = "x"\n[contex]\nfoo = 1\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert f"{path}:2: unknown key 'contex': did you mean 'contexts'?" in str(info.value)


def test_bad_value_names_key_line_and_value(tmp_path: Path) -> None:
    path = write(tmp_path, """
[contexts.lab]
poll_interval_s = "fast"
""")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    text = str(info.value)
    assert f"{path}:2: 'contexts.lab.poll_interval_s'" in text
    assert "'fast'" in text and "number" in text


def test_bad_value_points_at_the_right_context(tmp_path: Path) -> None:
    """The same key in two contexts: the line must be the one in the context that is wrong."""
    path = write(tmp_path, """
[contexts.a]
poll_interval_s = 2

[contexts.b]
poll_interval_s = 0.1
""")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert f"{path}:5: 'contexts.b.poll_interval_s'" in str(info.value)
    assert "greater than or equal to 0.5" in str(info.value)


def test_bad_value_in_second_backend_points_at_it(tmp_path: Path) -> None:
    path = write(tmp_path, """
[[contexts.lab.backends]]
kind = "libvirt"
name = "kvm1"
uri = "qemu:///system"
timeout_s = 5

[[contexts.lab.backends]]
kind = "libvirt"
name = "kvm2"
uri = "qemu:///system"
timeout_s = -1
""")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert f"{path}:11: 'contexts.lab.backends.libvirt.timeout_s'" in str(info.value)


def test_unknown_backend_kind_lists_known_kinds(tmp_path: Path) -> None:
    path = write(tmp_path, """
[[contexts.lab.backends]]
kind = "libvrt"
name = "kvm1"
uri = "qemu:///system"
""")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    text = str(info.value)
    assert str(path) in text and "'libvrt'" in text and "'libvirt'" in text


def test_invalid_toml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[contexts.lab]\nread_only = tru\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert str(path) in str(info.value) and "line 2" in str(info.value)


def test_unknown_context_suggests_the_closest(tmp_path: Path) -> None:
    settings, _ = load_settings(write(tmp_path, GOOD))
    with pytest.raises(ConfigError) as info:
        resolve_context(settings, "prd")
    assert info.value.kind is Code.CONFIG_UNKNOWN_CONTEXT
    assert "'prd'" in str(info.value) and "did you mean 'prod'?" in str(info.value)
    with pytest.raises(ConfigError) as info:
        resolve_context(settings, "zzzzzz")
    assert "known: demo, lab, prod" in str(info.value)


def test_env_overrides_file_with_nesting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`NOVACRON_*` beats the file (the file is the lowest source); `__` reaches nested keys."""
    path = write(tmp_path, GOOD)
    monkeypatch.setenv("NOVACRON_UI__ASCII", "true")
    monkeypatch.setenv("NOVACRON_UI__THEME", "novacron-ansi")
    monkeypatch.setenv("NOVACRON_DEFAULT_CONTEXT", "prod")
    monkeypatch.setenv("NOVACRON_CONTEXTS__LAB__POLL_INTERVAL_S", "7")
    settings, _ = load_settings(path)
    assert settings.ui.ascii is True
    assert settings.ui.theme == "novacron-ansi"
    assert settings.default_context == "prod"
    lab = settings.contexts["lab"]
    assert lab.poll_interval_s == 7
    assert lab.read_only is True, "the rest of the file's context survives a nested override"
    assert [b.name for b in lab.backends] == ["kvm1"]
    assert resolve_context(settings, None)[0] == "prod"


def test_env_unknown_key_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOVACRON_UI__THEMEX", "x")
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path / "absent.toml")
    assert "ui.themex" in str(info.value) and "did you mean 'theme'?" in str(info.value)


def test_novacron_config_points_at_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, GOOD)
    monkeypatch.setenv("NOVACRON_CONFIG", str(path))
    settings, used = load_settings()
    assert used == path and "lab" in settings.contexts


def test_no_file_means_the_demo_fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOVACRON_CONFIG", str(tmp_path / "nowhere" / "config.toml"))
    settings, used = load_settings()
    assert used is None
    name, ctx = resolve_context(settings, None)
    assert name == DEMO_CONTEXT
    uris = [b.uri for b in ctx.backends]
    assert uris == [f"test://{p}" for p in demo.host_files()]
    assert all(Path(u.removeprefix("test://")).is_file() for u in uris)
    assert not ctx.read_only
