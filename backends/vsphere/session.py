"""One logged-in vSphere session: credentials, TLS, login on first use, re-login on expiry.

vCenter drops idle sessions (30 minutes by default) and every call after that answers
`NotAuthenticated`. The call is refused before anything runs, so logging in again on the same
connection and repeating it once is safe: it cannot do a thing twice. Managed-object
references (`vm-42`) stay valid across logins.

Everything here blocks: the backend calls it on its worker threads.
"""

from __future__ import annotations

import contextlib
import netrc
import os
import ssl
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pyVim.connect import SmartConnect
from pyVmomi import vim

from console.errors import Code, NovaError

from .errors import CONNECTION_ERRORS, translate

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where and how to log in (what the config says; the secret itself is read at login)."""

    host: str
    port: int = 443
    user_env: str = "VSPHERE_USER"
    password_env: str = "VSPHERE_PASSWORD"
    credentials_file: Path | None = None
    verify_tls: bool = True
    ca_file: Path | None = None

    @property
    def label(self) -> str:
        return self.host if self.port == 443 else f"{self.host}:{self.port}"


def read_credentials(endpoint: Endpoint) -> tuple[str, str]:
    """(user, password) from the credentials file, else from the environment variables."""
    if endpoint.credentials_file is not None:
        return _from_netrc(endpoint.credentials_file, endpoint)
    user = os.environ.get(endpoint.user_env, "")
    password = os.environ.get(endpoint.password_env, "")
    if not user or not password:
        unset = [n for n, v in ((endpoint.user_env, user), (endpoint.password_env, password)) if not v]
        raise NovaError(Code.CONFIG_INVALID, f"no vSphere credentials for {endpoint.label}",
                        f"set {' and '.join(unset)} (or credentials_file in the source entry)")
    return user, password


def _from_netrc(path: Path, endpoint: Endpoint) -> tuple[str, str]:
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise NovaError(Code.PERMISSION_DENIED, f"credentials file {path}",
                            f"others can read it (mode {stat.filemode(mode)}): chmod 600 {path}")
        entries = netrc.netrc(str(path))
    except OSError as exc:
        raise NovaError(Code.CONFIG_INVALID, f"credentials file {path}",
                        f"cannot read it: {exc.strerror or exc}") from exc
    except netrc.NetrcParseError as exc:
        raise NovaError(Code.CONFIG_INVALID, f"credentials file {path}",
                        f"not netrc syntax (line {exc.lineno}): write "
                        f"`machine {endpoint.host} login USER password SECRET`") from None
    for machine in (endpoint.label, endpoint.host):
        found = entries.authenticators(machine)
        if found and found[0] and found[2]:
            return found[0], found[2]
    raise NovaError(Code.CONFIG_INVALID, f"credentials file {path}",
                    f"no `machine {endpoint.host}` (or default) entry with login and password")


def tls_context(endpoint: Endpoint) -> ssl.SSLContext:
    """Verified by default, against `ca_file` or the system store. Always an explicit context:
    pyVmomi would otherwise skip verification for 127.0.0.1 and localhost on its own."""
    if not endpoint.verify_tls:
        return ssl._create_unverified_context()  # the operator said so in the config
    try:
        return ssl.create_default_context(
            cafile=str(endpoint.ca_file) if endpoint.ca_file is not None else None)
    except (OSError, ssl.SSLError) as exc:
        raise NovaError(Code.CONFIG_INVALID, f"ca_file {endpoint.ca_file}",
                        f"not a readable PEM bundle: {exc}") from exc


class Session:
    """A connection to one vCenter (or ESXi), logged in on demand; thread-safe."""

    def __init__(self, endpoint: Endpoint, *, http_timeout_s: float) -> None:
        self.endpoint = endpoint
        self.http_timeout_s = http_timeout_s
        self._si: Any = None
        self._lock = threading.Lock()
        self.logins = 0
        """How many times this session logged in (tests and the bench read it)."""

    @property
    def label(self) -> str:
        return self.endpoint.label

    def content(self) -> Any:
        """The ServiceInstance content (`rootFolder`, `propertyCollector`…), logging in first
        if needed."""
        with self._lock:
            if self._si is None:
                self._si = self._connect()
            return self._si.content

    @property
    def stub(self) -> Any:
        self.content()
        return self._si._stub

    def _connect(self) -> Any:
        user, password = read_credentials(self.endpoint)
        try:
            si = SmartConnect(host=self.endpoint.host, port=self.endpoint.port, user=user,
                              pwd=password, sslContext=tls_context(self.endpoint),
                              httpConnectionTimeout=self.http_timeout_s,
                              connectionPoolTimeout=-1)
        except vim.fault.InvalidLogin as fault:
            raise NovaError(Code.PERMISSION_DENIED, f"vSphere login as {user} at {self.label}",
                            "InvalidLogin: the user name or password was refused; check "
                            f"{self._where()}") from fault
        except Exception as exc:
            raise translate(exc, f"vSphere at {self.label}") from exc
        self.logins += 1
        return si

    def _where(self) -> str:
        endpoint = self.endpoint
        if endpoint.credentials_file is not None:
            return str(endpoint.credentials_file)
        return f"{endpoint.user_env} and {endpoint.password_env}"

    def _relogin(self) -> None:
        """Log in again on the same connection (the server forgot our session)."""
        user, password = read_credentials(self.endpoint)
        with self._lock:
            if self._si is None:
                self._si = self._connect()
                return
            try:
                self._si.content.sessionManager.Login(user, password)
            except vim.fault.InvalidLogin as fault:
                raise NovaError(Code.PERMISSION_DENIED, f"vSphere re-login as {user} at {self.label}",
                                f"InvalidLogin: the credentials stopped working; check {self._where()}"
                                ) from fault
            self.logins += 1

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(content, *args)`, logging in again and repeating once on `NotAuthenticated`; a
        broken connection is dropped so the next call opens a new one."""
        content = self.content()
        try:
            return fn(content, *args)
        except vim.fault.NotAuthenticated:
            self._relogin()
            return fn(self.content(), *args)
        except CONNECTION_ERRORS:
            self.drop()
            raise

    def drop(self) -> None:
        with self._lock:
            self._si = None

    def logout(self) -> None:
        with self._lock:
            si, self._si = self._si, None
        if si is not None:
            with contextlib.suppress(Exception):  # already gone, or the server is down
                si.content.sessionManager.Logout()
