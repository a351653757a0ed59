"""Actions against a real libvirtd over TCP, each verified afterwards with `virsh`.

The tests start their own `libvirtd` (as an unprivileged user, in a temporary directory,
listening on a loopback port) and talk to its test driver's shared `/default` hypervisor, which
has a running guest named `test`. Everything between the console and the guest is real:
the dispatcher, the audit store, libvirt's remote protocol, the daemon. `virsh` then reads
the state back on its own connection.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import libvirt
import pytest

from backends.libvirt.backend import LibvirtBackend
from console.actions import registry as actions
from console.actions.dispatcher import Dispatcher, Request, Target
from console.errors import Code
from console.store import Store

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

GUEST = "test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def libvirtd_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A libvirtd of our own, serving `test+tcp://127.0.0.1:PORT/default`."""
    daemon = shutil.which("libvirtd") or "/usr/sbin/libvirtd"
    if not os.path.exists(daemon) or not shutil.which("virsh"):
        pytest.skip("libvirtd and virsh are needed")
    root = tmp_path_factory.mktemp("libvirtd")
    port = _free_port()
    (root / "run").mkdir()
    (root / "home").mkdir()
    (root / "libvirtd.conf").write_text(
        f'listen_tls = 0\nlisten_tcp = 1\ntcp_port = "{port}"\nlisten_addr = "127.0.0.1"\n'
        f'auth_tcp = "none"\nunix_sock_dir = "{root / "run"}"\n')
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(root / "home"),
           "XDG_RUNTIME_DIR": str(root / "run"), "XDG_CONFIG_HOME": str(root / "home/.config"),
           "XDG_CACHE_HOME": str(root / "home/.cache")}
    command = [daemon, "--listen", "-f", str(root / "libvirtd.conf")]
    if os.geteuid() == 0:  # root would run the system daemon (system paths): drop to nobody
        nobody = pwd.getpwnam("nobody")
        for path in (root, *root.rglob("*")):
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
        for parent in root.parents:
            if parent == Path("/tmp") or parent == Path("/"):
                break
            os.chmod(parent, os.stat(parent).st_mode | 0o711)
        command = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}",
                   "--clear-groups", *command]
    log = open(root / "libvirtd.log", "w")  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    uri = f"test+tcp://127.0.0.1:{port}/default"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if virsh(uri, "uri").returncode == 0:
                break
            if proc.poll() is not None:
                pytest.fail(f"libvirtd exited: {(root / 'libvirtd.log').read_text()[-2000:]}")
            time.sleep(0.2)
        # The test driver's /default state lives while a connection is open: hold one.
        keeper = libvirt.open(uri)
        try:
            yield uri
        finally:
            keeper.close()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def virsh(uri: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["virsh", "-c", uri, *args], capture_output=True, text=True, timeout=30)


def domstate(uri: str, name: str = GUEST) -> str:
    out = virsh(uri, "domstate", name)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def snapshot_list(uri: str, name: str = GUEST) -> list[str]:
    out = virsh(uri, "snapshot-list", name, "--name")
    assert out.returncode == 0, out.stderr
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


async def test_lifecycle_through_the_dispatcher(libvirtd_uri: str, tmp_path: Path) -> None:
    uri = libvirtd_uri
    assert domstate(uri) == "running"
    backend = LibvirtBackend("lvd", uri)
    store = await Store.open(tmp_path / "audit.db")
    poked: list[str] = []
    dispatcher = Dispatcher({"lvd": backend}, audit=store, context="it", read_only=False,
                            poke=poked.append)
    uuid = virsh(uri, "domuuid", GUEST).stdout.strip()
    target = Target("lvd", uuid, GUEST)

    async def run(action: str, **params: object) -> None:
        spec = actions.get(action)
        request = Request(action, target, actions.prepare_params(spec, params), confirmed=True,
                          typed_name=GUEST, origin="test")
        outcome = await dispatcher.run(request)
        assert outcome.ok, outcome.error

    try:
        await run("vm.shutdown", timeout_s=20)
        assert domstate(uri) == "shut off"
        await run("vm.start")
        assert domstate(uri) == "running"
        await run("vm.snapshot_create", name="it-snap", description="integration")
        assert snapshot_list(uri) == ["it-snap"]
        await run("vm.force_off")
        assert domstate(uri) == "shut off"
        await run("vm.snapshot_revert", snapshot="it-snap")  # a snapshot of a running guest
        assert domstate(uri) == "running"
        await run("vm.suspend")
        assert domstate(uri) == "paused"
        await run("vm.resume")
        assert domstate(uri) == "running"
        await run("vm.snapshot_delete", snapshot="it-snap")
        assert snapshot_list(uri) == []

        # A second action while one runs on the same VM is refused (NOVA-3003), not queued.
        slow = asyncio.create_task(dispatcher.run(Request(
            "vm.snapshot_create", target, {"name": "slow"}, origin="test")))
        await asyncio.sleep(0)
        busy = await dispatcher.run(Request("vm.force_off", target, typed_name=GUEST,
                                            origin="test"))
        assert busy.status == "refused" and busy.error.kind is Code.OPERATION_IN_PROGRESS
        assert (await slow).ok

        await run("vm.delete", remove_storage=True)
        out = virsh(uri, "list", "--all", "--name")
        assert GUEST not in out.stdout.split()
        missing = await dispatcher.run(Request("vm.start", target, origin="test"))
        assert missing.error is not None and missing.error.kind is Code.VM_NOT_FOUND

        entries = list(reversed(await store.audit(limit=50)))
        assert [(e.action, e.status.value) for e in entries] == [
            ("vm.shutdown", "ok"), ("vm.start", "ok"), ("vm.snapshot_create", "ok"),
            ("vm.force_off", "ok"), ("vm.snapshot_revert", "ok"), ("vm.suspend", "ok"),
            ("vm.resume", "ok"), ("vm.snapshot_delete", "ok"),
            ("vm.snapshot_create", "ok"),  # its row was written before the call started…
            ("vm.force_off", "refused"),   # …so the refused second action comes after it
            ("vm.delete", "ok"), ("vm.start", "failed")]
        assert entries[-1].error_code == Code.VM_NOT_FOUND.code
        assert all(e.idempotency_key for e in entries)
        assert poked and set(poked) == {"lvd"}
    finally:
        await store.close()
        await backend.close()


def test_cli_against_libvirtd(libvirtd_uri: str, tmp_path: Path) -> None:
    """The same through `novacron vm …` in a subprocess; exit codes as documented."""
    uri = libvirtd_uri
    name = "cli-guest"
    conn = libvirt.open(uri)  # a running guest of its own, whatever the other test did
    try:
        dom = conn.defineXML(f"<domain type='test'><name>{name}</name><memory>65536</memory>"
                             "<os><type>hvm</type></os></domain>")
        dom.create()
    finally:
        conn.close()
    config = tmp_path / "config.toml"
    config.write_text(f'default_context = "it"\n[contexts.it]\n[[contexts.it.backends]]\n'
                      f'kind = "libvirt"\nname = "lvd"\nuri = "{uri}"\n')
    env = {**os.environ, "NOVACRON_STATE_DIR": str(tmp_path / "state"),
           "NOVACRON_CONFIG": str(config)}

    def novacron(*args: str) -> int:
        return subprocess.run([sys.executable, "-m", "console.cli.main", *args], env=env,
                              capture_output=True, text=True, timeout=60).returncode

    assert novacron("vm", "shutdown", name) == 3  # no --yes
    assert domstate(uri, name) == "running"
    assert novacron("vm", "shutdown", name, "--yes", "--timeout-s", "20") == 0
    assert domstate(uri, name) == "shut off"
    assert novacron("vm", "start", name) == 0
    assert domstate(uri, name) == "running"
    assert novacron("vm", "force-off", name, "--confirm", "tes") == 3
    assert novacron("vm", "force-off", name, "--confirm", name) == 0
    assert domstate(uri, name) == "shut off"
    assert novacron("--read-only", "vm", "start", name) == 3
    assert domstate(uri, name) == "shut off"
    assert novacron("vm", "start", "no-such-vm") == 4
