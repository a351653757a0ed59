"""asyncssh and socket errors as NovaErrors naming the hop (alias, address) and the way in."""

from __future__ import annotations

import asyncssh

from console.errors import Code, NovaError

from .sshconfig import Hop


def translate(exc: BaseException, hop: Hop, via: Hop | None) -> NovaError:
    """What went wrong reaching `hop` (through `via`, the hop before it, if any)."""
    if isinstance(exc, NovaError):
        return exc
    way = f" via {via.alias}" if via is not None else ""
    where = f"{hop.where}{way}"
    text = str(exc) or type(exc).__name__
    if isinstance(exc, asyncssh.PermissionDenied):
        user = f" as {hop.user}" if hop.user else ""
        return NovaError(Code.PERMISSION_DENIED, f"ssh to {where}{user}",
                         f"no key was accepted (IdentityFile, IdentityAgent): {text}")
    if isinstance(exc, asyncssh.ChannelOpenError):
        return NovaError(Code.HOST_UNREACHABLE, f"ssh to {where}",
                         f"{via.alias if via else 'the jump host'} could not reach it: {text}")
    if isinstance(exc, TimeoutError):
        limit = f" within {hop.connect_timeout_s:g} s" if hop.connect_timeout_s else ""
        return NovaError(Code.TIMEOUT, f"ssh to {where}", f"no SSH answer{limit} (ConnectTimeout)")
    if isinstance(exc, ConnectionRefusedError):
        return NovaError(Code.HOST_UNREACHABLE, f"ssh to {where}", "connection refused")
    if isinstance(exc, (asyncssh.DisconnectError, asyncssh.ConnectionLost, OSError)):
        return NovaError(Code.HOST_UNREACHABLE, f"ssh to {where}", text)
    if isinstance(exc, (asyncssh.KeyImportError, asyncssh.KeyEncryptionError, ValueError)):
        return NovaError(Code.CONFIG_INVALID, f"ssh to {where}", text)
    return NovaError(Code.BACKEND_ERROR, f"ssh to {where}", f"{type(exc).__name__}: {text}")
