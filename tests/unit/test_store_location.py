"""Choosing the store: the config's `store` (per context or for the whole file), a libpq URL
that never carries a password, and libpq finding the password where it belongs (.pgpass)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from console.config import ConfigError, load_settings, resolve_context
from console.errors import NovaError
from console.store import Store, StoreError, open_store
from tests.integration.postgres_fixture import free_port, shared_server


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_a_context_store_overrides_the_top_level_one(tmp_path: Path) -> None:
    path = write(tmp_path, """
store = "postgresql://ops@db-1.example/novacron?sslmode=verify-full"
[contexts.prod]
[contexts.lab]
store = "/var/lib/novacron/lab.db"
""")
    settings, _ = load_settings(path)
    _, prod = resolve_context(settings, "prod")
    _, lab = resolve_context(settings, "lab")
    assert prod.store == "postgresql://ops@db-1.example/novacron?sslmode=verify-full"
    assert lab.store == "/var/lib/novacron/lab.db"


def test_no_store_anywhere_means_the_default_file(tmp_path: Path) -> None:
    settings, _ = load_settings(write(tmp_path, "[contexts.prod]\n"))
    assert resolve_context(settings, "prod")[1].store is None


def test_the_environment_can_name_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOVACRON_STORE", "postgresql://ana@127.0.0.1/novacron")
    settings, _ = load_settings(write(tmp_path, "[contexts.prod]\n"))
    assert resolve_context(settings, "prod")[1].store == "postgresql://ana@127.0.0.1/novacron"


@pytest.mark.parametrize("url", ["postgresql://ops:s3cret@db-1/novacron",
                                 "postgres://db-1/novacron?user=ops&password=s3cret"])
def test_a_password_in_the_config_is_refused_and_not_echoed(tmp_path: Path, url: str) -> None:
    path = write(tmp_path, f'[contexts.prod]\nstore = "{url}"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    text = str(caught.value)
    assert "s3cret" not in text
    assert f"{path}:2" in text and "PGPASSFILE" in text and ".pgpass" in text


async def test_opening_a_url_with_a_password_is_refused_before_connecting() -> None:
    with pytest.raises(NovaError) as caught:
        await Store.open("postgresql://ops:s3cret@127.0.0.1:1/novacron")
    assert caught.value.code == "NOVA-1001"
    assert "s3cret" not in str(caught.value) and "PGPASSWORD" in str(caught.value)


@pytest.mark.integration
async def test_libpq_takes_the_password_from_pgpassfile(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A role that must give a password (scram-sha-256) connects with the URL alone."""
    server = shared_server()
    with server.admin() as conn:
        conn.execute("DROP ROLE IF EXISTS ana_pgpass")
        conn.execute("CREATE ROLE ana_pgpass LOGIN PASSWORD 'correct horse'")
    url = server.fresh_url(user="ana_pgpass")
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    monkeypatch.delenv("PGPASSWORD", raising=False)
    with pytest.raises(StoreError) as refused:
        await Store.open(url)
    assert "could not be reached" in str(refused.value)
    assert "password" in str(refused.value).lower()  # libpq's own reason is kept

    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:{server.port}:novacron:ana_pgpass:correct horse\n")
    os.chmod(pgpass, 0o600)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    async with open_store(url) as store:
        await store.save_filter("prod", "tag:env:prod")
        assert await store.saved_filters() == {"prod": "tag:env:prod"}


async def test_an_unreachable_server_is_a_clear_error() -> None:
    """Nothing listens on the port: the error names the server, and libpq's reason."""
    with pytest.raises(StoreError) as caught:
        await Store.open(f"postgresql://ops@127.0.0.1:{free_port()}/novacron?connect_timeout=5")
    text = str(caught.value)
    assert caught.value.code == "NOVA-2007"
    assert "PostgreSQL novacron on 127.0.0.1" in text and "could not be reached" in text
    assert "refused" in text.lower()
