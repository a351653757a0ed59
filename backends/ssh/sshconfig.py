"""Resolve an ssh config alias the way OpenSSH does, with asyncssh's own config parser.

asyncssh parses `Host`/`Match` blocks, `Include` and `%` tokens; it ignores the options it does
not implement, so a `StrictHostKeyChecking no` would pass unnoticed. `_Config` adds those
options to asyncssh's parser so the console can refuse a config that switches checking off.

`chain(alias)` expands `ProxyJump` into the hops to open, first hop first: a jump host's own
`ProxyJump` applies to it (as with `ssh -J`), a comma list is a chain, `none` means direct.
The console opens every hop itself, so known_hosts and keepalive apply to each one.
"""

from __future__ import annotations

import dataclasses
import getpass
import re
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from asyncssh.config import ConfigParseError, SSHClientConfig, SSHConfig

from console.errors import Code, NovaError

from .revoked import revoked_keys

DEFAULT_CONFIG = Path("~/.ssh/config")
DEFAULT_USER_KNOWN_HOSTS = ("~/.ssh/known_hosts", "~/.ssh/known_hosts2")
DEFAULT_GLOBAL_KNOWN_HOSTS = ("/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2")
KEEPALIVE_INTERVAL_S = 5
"""Used when the config sets no ServerAliveInterval: a dead hop is noticed within
interval * (count + 1) = 20 s."""
KEEPALIVE_COUNT = 3
MAX_HOPS = 8
_DISABLED = {"no", "off", "false"}
_JUMP = re.compile(r"^(?:ssh://)?(?:(?P<user>[^@/]+)@)?(?P<host>\[[^\]]+\]|[^:@/]+)(?::(?P<port>\d+))?/?$")


class _Config(SSHClientConfig):
    """asyncssh's client config, plus the options that would weaken host key checking."""

    _handlers = {
        **SSHClientConfig._handlers,
        "stricthostkeychecking": ("StrictHostKeyChecking", SSHConfig._set_string),
        "checkhostip": ("CheckHostIP", SSHConfig._set_string),
        "revokedhostkeys": ("RevokedHostKeys", SSHConfig._set_string_list),
    }


@dataclass(frozen=True, slots=True)
class Hop:
    """One SSH server on the way to a host, resolved from the config."""

    spec: str
    """As written: an alias (`kvm-fra-01`) or a jump spec (`ops@10.0.0.1:2222`)."""
    alias: str
    """The name config blocks match (`Host …`) and asyncssh is given."""
    hostname: str
    port: int
    user: str | None
    """None: asyncssh uses the config's User, else the local user."""
    known_hosts: tuple[Path, ...]
    keepalive_interval_s: float
    keepalive_count: int
    connect_timeout_s: float | None
    proxy_jump: str | None
    revoked_files: tuple[Path, ...] = ()
    """RevokedHostKeys: files of public keys refused for this hop (`revoked.py`)."""

    @property
    def where(self) -> str:
        """`alias (hostname port N)`: what an error names."""
        if self.alias == self.hostname:
            return f"{self.alias} (port {self.port})"
        return f"{self.alias} ({self.hostname} port {self.port})"


def config_paths(config_path: str | None) -> list[Path]:
    """The config files to read: the one given, else ~/.ssh/config when it exists."""
    if config_path:
        path = Path(config_path).expanduser()
        if not path.is_file():
            raise NovaError(Code.CONFIG_INVALID, f"ssh config {path}", "no such file")
        return [path]
    default = DEFAULT_CONFIG.expanduser()
    return [default] if default.is_file() else []


def _load(paths: list[Path], alias: str, user: str | None, port: int | None) -> _Config:
    try:
        loaded = _Config.load(None, paths, False, False, False, getpass.getuser(),
                              user if user else (), alias, port if port else ())
        return cast(_Config, loaded)
    except (ConfigParseError, OSError) as exc:
        raise NovaError(Code.CONFIG_INVALID, "ssh config", str(exc)) from exc


def _split_jump(spec: str) -> tuple[str, str | None, int | None]:
    match = _JUMP.match(spec.strip())
    if not match:
        raise NovaError(Code.CONFIG_INVALID, f"ProxyJump {spec!r}",
                        "expected [user@]host[:port] or an alias")
    port = match.group("port")
    return match.group("host").strip("[]"), match.group("user"), int(port) if port else None


def resolve(spec: str, paths: list[Path], default_timeout_s: float | None = None) -> Hop:
    """One hop from the config, refusing settings that switch host key checking off."""
    alias, user, port = _split_jump(spec)
    cfg = _load(paths, alias, user, port)
    where = ", ".join(str(p) for p in paths) or "ssh defaults"
    strict = str(cfg.get("StrictHostKeyChecking", "yes")).lower()
    if strict in _DISABLED:
        raise NovaError(Code.CONFIG_INVALID, f"ssh config for {alias} ({where})",
                        f"StrictHostKeyChecking {strict} disables host key checking; remove it "
                        "(the console never connects to a host whose key it cannot verify)")
    user_files = cfg.get("UserKnownHostsFile")
    files = list(user_files) if isinstance(user_files, list) else list(DEFAULT_USER_KNOWN_HOSTS)
    if not files or any(f.lower() == "none" or Path(f).expanduser() == Path("/dev/null")
                        for f in files):
        shown = " ".join(files) or "none"
        raise NovaError(Code.CONFIG_INVALID, f"ssh config for {alias} ({where})",
                        f"UserKnownHostsFile {shown} disables host key checking; point it at "
                        "a known_hosts file")
    global_files = cfg.get("GlobalKnownHostsFile")
    files += list(global_files) if isinstance(global_files, list) else DEFAULT_GLOBAL_KNOWN_HOSTS
    command = cfg.get("ProxyCommand")
    if command and str(command).lower() != "none":
        raise NovaError(Code.CONFIG_INVALID, f"ssh config for {alias} ({where})",
                        "ProxyCommand is not supported: use ProxyJump, so the console checks "
                        "every hop's host key itself")
    jump = cfg.get("ProxyJump")
    timeout = cfg.get("ConnectTimeout")
    revoked = cfg.get("RevokedHostKeys")
    revoked_files = tuple(Path(f).expanduser() for f in revoked
                          if f.lower() != "none") if isinstance(revoked, list) else ()
    revoked_keys(revoked_files, alias)  # a KRL or a missing file: refused now, by name
    return Hop(
        spec=spec, alias=alias, hostname=str(cfg.get("Hostname", alias)),
        port=int(port or cfg.get("Port", 22)),  # type: ignore[call-overload]
        user=user or (str(cfg.get("User")) if cfg.get("User") else None),
        known_hosts=tuple(Path(f).expanduser() for f in files),
        keepalive_interval_s=float(cfg.get("ServerAliveInterval", KEEPALIVE_INTERVAL_S)),  # type: ignore[arg-type]
        keepalive_count=int(cfg.get("ServerAliveCountMax", KEEPALIVE_COUNT)),  # type: ignore[call-overload]
        connect_timeout_s=float(timeout) if timeout else default_timeout_s,  # type: ignore[arg-type]
        proxy_jump=None if not jump or str(jump).lower() == "none" else str(jump),
        revoked_files=revoked_files,
    )


def chain(spec: str, paths: list[Path], default_timeout_s: float | None = None,
          _depth: int = 0) -> list[Hop]:
    """Every hop to `spec`, first hop first, `spec` itself last."""
    if _depth > MAX_HOPS:
        raise NovaError(Code.CONFIG_INVALID, f"ProxyJump for {spec}",
                        f"more than {MAX_HOPS} hops (a ProxyJump loop?)")
    target = resolve(spec, paths, default_timeout_s)
    if target.proxy_jump is None:
        return [target]
    jumps = [j.strip() for j in target.proxy_jump.split(",") if j.strip()]
    hops = chain(jumps[0], paths, default_timeout_s, _depth + 1)
    # Later hops of a list are reached through the earlier ones: their own ProxyJump is
    # overridden (as `ssh -J a,b` does).
    hops += [_without_jump(resolve(j, paths, default_timeout_s)) for j in jumps[1:]]
    if len(hops) + 1 > MAX_HOPS:
        raise NovaError(Code.CONFIG_INVALID, f"ProxyJump for {spec}", f"more than {MAX_HOPS} hops")
    return [*hops, target]


def _without_jump(hop: Hop) -> Hop:
    return dataclasses.replace(hop, proxy_jump=None)
