"""`RevokedHostKeys` from ssh config: host keys refused whatever known_hosts says.

OpenSSH accepts a text file of public keys (one per line, its own format) or a binary Key
Revocation List (KRL). asyncssh ignores the option, and no maintained Python library reads a
KRL, so: text files are read here (afresh on every connection attempt, like known_hosts) and
their keys refused like `@revoked` lines (NOVA-2006); a KRL, a missing or unreadable file is
a configuration error (NOVA-1001). A revocation list is never silently ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncssh

from console.errors import Code, NovaError

KRL_MAGIC = b"SSHKRL\n\0"
"""The first bytes of an OpenSSH KRL (PROTOCOL.krl)."""


def revoked_keys(files: tuple[Path, ...], alias: str) -> list[Any]:
    """Every public key listed in `files`; NovaError CONFIG_INVALID when one cannot be used."""
    keys: list[Any] = []
    for path in files:
        where = f"RevokedHostKeys {path} (ssh config for {alias})"
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise NovaError(Code.CONFIG_INVALID, where,
                            "no such file: create it (it may be empty) or remove the option; a "
                            "missing revocation list would let revoked keys through") from exc
        except OSError as exc:
            raise NovaError(Code.CONFIG_INVALID, where, str(exc)) from exc
        if data.startswith(KRL_MAGIC):
            raise NovaError(Code.CONFIG_INVALID, where,
                            "a binary KRL, which the console cannot read (no maintained Python "
                            "library does); list the revoked public keys in a text file instead "
                            "(ssh-keygen -Q -l -f FILE shows what the KRL holds)")
        for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            try:
                keys.append(asyncssh.import_public_key(text))
            except (asyncssh.KeyImportError, ValueError) as exc:
                raise NovaError(Code.CONFIG_INVALID, f"{where}, line {number}",
                                f"not a public key in OpenSSH's format: {exc}") from exc
    return keys
