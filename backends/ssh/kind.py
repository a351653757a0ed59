"""The `ssh` transport: hosts reached through the user's ssh config (aliases, ProxyJump
chains, IdentityFile/agent, keepalives) with asyncssh and strict known_hosts on every hop.

Light: asyncssh is imported only when a context opens a link (`open_link`).
"""

from __future__ import annotations

from backends.base import HostLink, TransportKind


def open_link(host: str, *, config_path: str | None = None, timeout_s: float = 10.0) -> HostLink:
    from .link import SshLink  # asyncssh loads here, when a context reaches a host over SSH

    return SshLink(host, config_path=config_path, timeout_s=timeout_s)


TRANSPORT = TransportKind(
    name="ssh", open=open_link,
    description="asyncssh with the user's ssh config: ProxyJump chains, agent, keepalives, "
                "strict known_hosts on every hop; unix sockets forwarded, /proc read by SFTP.",
)
