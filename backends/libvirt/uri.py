"""Which libvirt URIs the console accepts (shared by the config check and every opener)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from console.errors import Code, NovaError


def check_uri(uri: str) -> None:
    """Refuse URIs that switch off certificate or host-key checks."""
    query = parse_qs(urlsplit(uri).query)
    if query.get("no_verify", ["0"])[0] not in ("", "0"):
        raise NovaError(Code.URI_REFUSED, uri, "no_verify disables TLS certificate checks")
