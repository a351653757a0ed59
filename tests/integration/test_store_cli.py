"""`novacron store check` / `store migrate` as an operator runs them: a real subprocess, the
store named by the config file (the team's PostgreSQL, or a SQLite file)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from console.store.postgres.schema import SCHEMA_VERSION
from tests.integration.postgres_fixture import free_port, shared_server

pytestmark = pytest.mark.integration


def novacron(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "console.cli.main", "--config", str(config),
                           *args], capture_output=True, text=True, timeout=120, check=False)


def config_naming(tmp_path: Path, store: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'store = "{store}"\n[contexts.prod]\n')
    return path


def test_check_then_migrate_a_fresh_postgres_store(tmp_path: Path) -> None:
    config = config_naming(tmp_path, shared_server().fresh_url())
    before = novacron(config, "store", "check")
    assert before.returncode == 1, before.stderr
    latest = SCHEMA_VERSION  # the steps this console knows (2: resume_json)
    assert "(postgresql)" in before.stdout and f"schema: 0 of {latest}" in before.stdout
    assert "novacron store migrate" in before.stdout

    migrated = novacron(config, "store", "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert f"schema: 0 -> {latest}" in migrated.stdout

    after = novacron(config, "store", "check")
    assert after.returncode == 0, after.stderr
    assert f"schema: {latest} of {latest}" in after.stdout and "synchronous_commit=on" in after.stdout
    assert "actions marked started: 0" in after.stdout
    again = novacron(config, "store", "migrate")
    assert "already up to date" in again.stdout


def test_an_unreachable_store_is_named_with_the_reason(tmp_path: Path) -> None:
    config = config_naming(tmp_path, f"postgresql://ops@127.0.0.1:{free_port()}/novacron")
    result = novacron(config, "store", "check")
    assert result.returncode == 1
    assert "NOVA-2007" in result.stderr and "could not be reached" in result.stderr
    assert "127.0.0.1" in result.stderr and "refused" in result.stderr.lower()


def test_a_password_in_the_config_is_a_usage_error(tmp_path: Path) -> None:
    config = config_naming(tmp_path, "postgresql://ops:s3cret@127.0.0.1/novacron")
    result = novacron(config, "store", "check")
    assert result.returncode == 2
    assert "PGPASSFILE" in result.stderr and "s3cret" not in result.stderr + result.stdout
