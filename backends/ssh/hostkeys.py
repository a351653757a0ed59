"""Strict host key checking for one hop, with refusals an operator can act on.

asyncssh refuses an unverifiable key with `HostKeyNotVerifiable` naming the HostName only,
and says neither whether the key is unknown or changed nor which key was offered. So each
connection attempt gets a `HostKeyCheck`: it is asyncssh's known_hosts matcher (files read
afresh on every attempt, so an accepted key counts at the next one) and it sees the offered
key through the client's `validate_host_public_key` hook, which only ever answers "no".

Revoked keys: when no `@cert-authority` line matches the host, revoked keys are handed to
asyncssh as untrusted (not as revoked) so they reach the hook and are named with their
fingerprint; with a CA, asyncssh keeps its own revocation (certificates need it) and the
refusal names the revoked keys on file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh

from console.errors import Code, NovaError

from .revoked import revoked_keys
from .sshconfig import Hop


@dataclass(frozen=True, slots=True)
class KeyOnFile:
    fingerprint: str
    file: Path


@dataclass
class HostKeyCheck:
    """The known_hosts policy for one connection attempt to `hop`."""

    hop: Hop
    offered: str | None = None
    """SHA256 fingerprint of the key the server offered (once the hook saw it)."""
    offered_key: Any = None
    verdict: Code | None = None
    on_file: list[KeyOnFile] = field(default_factory=list)
    revoked_on_file: list[KeyOnFile] = field(default_factory=list)
    _revoked: set[Any] = field(default_factory=set)
    _address: str = ""

    def __call__(self, host: str, addr: str, port: int | None) -> tuple[list[Any], ...]:
        """asyncssh's known_hosts callable: (trusted keys, CA keys, revoked keys)."""
        self._address = addr
        trusted: list[Any] = []
        cas: list[Any] = []
        revoked: list[Any] = []
        for path in self.hop.known_hosts:
            if not path.is_file():
                continue
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
                found = asyncssh.import_known_hosts(text).match(host, addr, port)
                gone = asyncssh.import_known_hosts(_revoked_as_plain(text)).match(host, addr, port)[0]
            except (OSError, ValueError) as exc:
                raise NovaError(Code.CONFIG_INVALID, f"known_hosts file {path}", str(exc)) from exc
            trusted += found[0]
            cas += found[1]
            revoked += gone
            self.on_file += [KeyOnFile(k.get_fingerprint("sha256"), path) for k in found[0]]
            self.revoked_on_file += [KeyOnFile(k.get_fingerprint("sha256"), path) for k in gone]
        revoked += revoked_keys(self.hop.revoked_files, self.hop.alias)  # RevokedHostKeys
        self._revoked = set(revoked)
        good = [k for k in trusted if k not in self._revoked]
        if cas:
            return good, cas, revoked
        return good, [], []

    def refuse(self, key: Any) -> bool:
        """The client hook: remember what was offered and why it is refused; never accept."""
        self.offered = key.get_fingerprint("sha256")
        self.offered_key = key
        if key in self._revoked:
            self.verdict = Code.HOST_KEY_REVOKED
        elif self.on_file:
            self.verdict = Code.HOST_KEY_CHANGED
        else:
            self.verdict = Code.HOST_KEY_UNKNOWN
        return False

    def error(self, exc: BaseException) -> NovaError:
        """The refusal as the operator reads it (the hosts screen shows this text)."""
        hop = self.hop
        address = f"{hop.hostname} port {hop.port}"
        if self._address and self._address != hop.hostname:
            address += f", address {self._address}"
        where = f"{hop.alias} ({address})"
        verdict = self.verdict
        if verdict is None:
            verdict = Code.HOST_KEY_REVOKED if "revoked" in str(exc).lower() else Code.HOST_KEY_UNKNOWN
        files = ", ".join(sorted({str(k.file) for k in self.on_file})) or \
            ", ".join(str(p) for p in hop.known_hosts)
        offered = f"offered {self.offered}" if self.offered else "offered key not seen"
        if verdict is Code.HOST_KEY_CHANGED:
            known = ", ".join(f"{k.fingerprint} ({k.file})" for k in self.on_file)
            detail = f"{where} {offered}; known_hosts has {known}"
            advice = ("possible man-in-the-middle: never accepted from the console; if the host "
                      f"was really reinstalled, check the new key and run ssh-keygen -R "
                      f"{_known_hosts_name(hop)}")
        elif verdict is Code.HOST_KEY_REVOKED:
            shown = self.offered or ", ".join(k.fingerprint for k in self.revoked_on_file)
            detail = f"{where} offered {shown}"
            lists = ", ".join(str(p) for p in hop.revoked_files)
            where_revoked = "@revoked in known_hosts" + (f" or in RevokedHostKeys {lists}"
                                                         if lists else "")
            advice = f"the key is revoked ({where_revoked}); the host needs a new key"
        else:
            detail = f"{where} {offered}"
            advice = (f"not in {files}; verify the fingerprint with the host's owner, then add "
                      "it to known_hosts")
        return NovaError(verdict, detail, f"refused: {advice}; {exc}")


def _revoked_as_plain(text: str) -> str:
    """The `@revoked` lines without their marker.

    asyncssh's `match` retries without the port when the `[host]:port` lookup found no
    trusted key, and that retry drops a port-specific `@revoked` line: matched as plain
    lines, revoked keys are found like trusted ones.
    """
    return "".join(line.split(None, 1)[1] + "\n" for line in text.splitlines()
                   if line.startswith("@revoked ") and len(line.split(None, 1)) == 2)


def _known_hosts_name(hop: Hop) -> str:
    return hop.hostname if hop.port == 22 else f"'[{hop.hostname}]:{hop.port}'"


def known_hosts_line(hop: Hop, key: Any) -> str:
    """The line that makes `key` trusted for `hop` (OpenSSH's format, port form when not 22)."""
    name = hop.hostname if hop.port == 22 else f"[{hop.hostname}]:{hop.port}"
    return f"{name} {key.export_public_key('openssh').decode().strip()}\n"


def trust(hop: Hop, check: HostKeyCheck, fingerprint: str) -> Path:
    """Add the key `check` refused as unknown to the hop's first known_hosts file, once the
    operator typed its fingerprint back. A changed or revoked key is never added here."""
    if check.verdict is not Code.HOST_KEY_UNKNOWN or check.offered_key is None:
        shown = check.verdict.message.lower() if check.verdict else "not refused"
        raise NovaError(Code.NOT_CONFIRMED, f"{hop.alias}: {shown}",
                        "only an unknown key can be accepted from the console")
    if fingerprint.strip() != check.offered:
        raise NovaError(Code.NOT_CONFIRMED, f"{hop.alias}: fingerprint does not match",
                        f"the host offered {check.offered}")
    target = hop.known_hosts[0]
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with target.open("a", encoding="utf-8") as handle:
        handle.write(known_hosts_line(hop, check.offered_key))
    return target
