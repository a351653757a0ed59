"""vcsim, VMware's vCenter simulator (govmomi), for the vSphere tests and bench.

`make test` builds it from Debian's own govmomi source package into `.make-stamps/tools/vcsim`
(see the Makefile). Each simulator listens on 127.0.0.1 on a port the kernel picks
(`-l 127.0.0.1:0`) and prints its URL on stdout (`-E -`), which is how we learn the port. It
serves a certificate for 127.0.0.1 signed by a throw-away CA made here, so the backend runs
with certificate verification on, as in production (pyVmomi would skip it for 127.0.0.1 if we
let it).

Plain functions and context managers (no pytest import): the tests and `tests/bench` share it.
A second, independent pyVmomi connection (`observer`) is how tests check what an action did.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import re
import socket
import ssl
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
VCSIM = Path(os.environ.get("NOVACRON_VCSIM", ROOT / ".make-stamps" / "tools" / "vcsim"))
URL_LINE = re.compile(r"GOVC_URL=https://(?P<user>[^:]*):(?P<password>[^@]*)@127\.0\.0\.1:(?P<port>\d+)/sdk")
START_TIMEOUT_S = 120.0
USER, PASSWORD = "novacron", "simulated-secret"


@dataclass(frozen=True)
class Vcsim:
    """One running simulator: where it listens, the CA that signed its certificate, and the
    credentials it accepts."""

    port: int
    ca_file: Path
    user: str
    password: str
    process: subprocess.Popen[str]

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA, and a server certificate for 127.0.0.1 it signs: (ca.pem, cert.pem, key.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "NovaCron test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


@contextlib.contextmanager
def running_vcsim(*args: str, user: str = USER, password: str = PASSWORD) -> Iterator[Vcsim]:
    """Start vcsim (`args`: its inventory flags, e.g. `-dc 2 -cluster 10`), yield it, stop it.

    With `user`/`password` it accepts only those (vcsim accepts anything otherwise)."""
    if not VCSIM.exists():
        raise RuntimeError(f"{VCSIM} is missing: run `make setup test` (the Makefile builds vcsim "
                           "from Debian's golang-github-vmware-govmomi source package)")
    with tempfile.TemporaryDirectory(prefix="vcsim-") as tmp:
        ca, cert, key = make_certificates(Path(tmp))
        # -stdinexit: vcsim exits when our end of its stdin closes, so a test run that is
        # killed leaves no simulator behind.
        command = [str(VCSIM), "-l", "127.0.0.1:0", "-E", "-", "-stdinexit", "-tlscert", str(cert),
                   "-tlskey", str(key), "-username", user, "-password", password, *args]
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, cwd=tmp)
        try:
            port = _wait_for_url(process)
            yield Vcsim(port=port, ca_file=ca, user=user, password=password, process=process)
        finally:
            if process.stdin is not None:
                process.stdin.close()
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def _wait_for_url(process: subprocess.Popen[str]) -> int:
    """Read vcsim's output until it prints its URL (it does once the inventory is built)."""
    found: list[int] = []
    seen: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            seen.append(line)
            match = URL_LINE.search(line)
            if match:
                found.append(int(match["port"]))
                break
        # keep draining so vcsim never blocks on a full pipe
        for _line in process.stdout:
            pass

    threading.Thread(target=read, daemon=True).start()
    deadline = START_TIMEOUT_S
    step = 0.05
    while not found:
        if process.poll() is not None:
            raise RuntimeError(f"vcsim exited with {process.returncode}: {''.join(seen)[-2000:]}")
        deadline -= step
        if deadline <= 0:
            raise RuntimeError(f"vcsim printed no URL within {START_TIMEOUT_S:g} s: {''.join(seen)[-2000:]}")
        threading.Event().wait(step)
    return found[0]


@contextlib.contextmanager
def observer(sim: Vcsim) -> Iterator[Any]:
    """An independent pyVmomi connection (its own session), verified against the test CA:
    what the tests check an action's effect through."""
    from pyVim.connect import Disconnect, SmartConnect

    context = ssl.create_default_context(cafile=str(sim.ca_file))
    si = SmartConnect(host="127.0.0.1", port=sim.port, user=sim.user, pwd=sim.password,
                      sslContext=context)
    try:
        yield si
    finally:
        with contextlib.suppress(Exception):
            Disconnect(si)


def read(si: Any, ref: Any, paths: Sequence[str]) -> dict[str, Any]:
    """Properties of one object through the PropertyCollector (unset ones are absent)."""
    from pyVmomi import vmodl

    pc = vmodl.query.PropertyCollector
    spec = pc.FilterSpec(objectSet=[pc.ObjectSpec(obj=ref, skip=False)],
                         propSet=[pc.PropertySpec(type=type(ref), pathSet=list(paths))])
    result = si.content.propertyCollector.RetrievePropertiesEx([spec], pc.RetrieveOptions())
    if result is None or not result.objects:
        return {}
    return {p.name: p.val for p in result.objects[0].propSet or ()}


def all_of(si: Any, kind: Any, paths: Sequence[str]) -> dict[str, dict[str, Any]]:
    """moid → properties of every object of `kind` (vim.VirtualMachine…) the server lists."""
    from pyVmomi import vmodl

    pc = vmodl.query.PropertyCollector
    content = si.content
    view = content.viewManager.CreateContainerView(content.rootFolder, [kind], True)
    try:
        traverse = pc.TraversalSpec(name="v", path="view", skip=False, type=type(view))
        spec = pc.FilterSpec(objectSet=[pc.ObjectSpec(obj=view, skip=True, selectSet=[traverse])],
                             propSet=[pc.PropertySpec(type=kind, pathSet=list(paths))])
        out: dict[str, dict[str, Any]] = {}
        result = content.propertyCollector.RetrievePropertiesEx([spec], pc.RetrieveOptions())
        while result is not None:
            for obj in result.objects or ():
                out[obj.obj._moId] = {p.name: p.val for p in obj.propSet or ()}
            if not result.token:
                break
            result = content.propertyCollector.ContinueRetrievePropertiesEx(result.token)
        return out
    finally:
        view.DestroyView()


def wait_task(task: Any) -> Any:
    from pyVim.task import WaitForTask

    return WaitForTask(task)
