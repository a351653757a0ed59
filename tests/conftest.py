"""Every test runs with its own empty state directory and no user config, so nothing from the
machine's ~/.config or ~/.local/state (a lab context, a stored snapshot, audit rows) leaks in."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path_factory.mktemp("novacron-user")
    monkeypatch.setenv("NOVACRON_STATE_DIR", str(home / "state"))
    monkeypatch.setenv("NOVACRON_CONFIG", str(home / "config.toml"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "xdg-config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "xdg-state"))
    Path(home / "state").mkdir()
