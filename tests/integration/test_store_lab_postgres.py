"""`lab up --store postgresql`'s server on its own: started as the postgres user under a lab
root, kept when already running, holding a `novacron` database a store opens, and named by
the lab contexts as their store. (The whole lab, with its KVM hosts, is `test_lab.py`'s.)"""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from console.lab import postgres
from console.lab.context import context_block
from console.lab.layout import LabLayout
from console.lab.procs import is_alive, stop
from console.store import open_store
from tests.integration.postgres_fixture import free_port

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0, reason="the lab runs as root")]


@pytest.fixture
def layout() -> Iterator[LabLayout]:
    root = Path(tempfile.mkdtemp(prefix="novacron-lab-pg-"))
    root.chmod(0o755)  # the postgres user must reach its directory below
    lab = LabLayout(root=root, port_offset=free_port() - postgres_port_base())
    try:
        yield lab
    finally:
        shutil.rmtree(root, ignore_errors=True)


def postgres_port_base() -> int:
    return LabLayout().postgres_port


async def test_the_lab_postgres_serves_a_store_and_is_kept_by_a_second_up(
        layout: LabLayout) -> None:
    proc = postgres.ensure(layout, None)
    try:
        assert is_alive(proc)
        data = layout.postgres_dir / "data"
        assert data.stat().st_uid == pwd.getpwnam("postgres").pw_uid  # not root's
        assert postgres.ensure(layout, proc) == proc  # already running: kept
        async with open_store(layout.postgres_url) as store:
            assert store.engine.name == "postgresql"
            await store.save_filter("team", "tag:team:ops")
        async with open_store(layout.postgres_url) as again:
            assert await again.saved_filters() == {"team": "tag:team:ops"}
    finally:
        stop(proc, timeout=30)
    assert not is_alive(proc)


def test_the_lab_contexts_name_the_store() -> None:
    url = "postgresql://postgres@127.0.0.1:15432/novacron"
    block = context_block([("labhost1", "qemu+tcp://127.0.0.1:16511/system")],
                          "http://127.0.0.1:19090", store=url)
    contexts = tomllib.loads(block)["contexts"]
    assert contexts["lab"]["store"] == url and contexts["lab-prom"]["store"] == url
    assert "store" not in tomllib.loads(context_block([], None))["contexts"]["lab"]
