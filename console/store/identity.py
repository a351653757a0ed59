"""Who is acting and when, as the audit log records it."""

from __future__ import annotations

import getpass
import os
import time
from datetime import UTC, datetime


def local_user() -> str:
    """The login running the console; under sudo, the person behind it is kept too."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"
    sudo_user = os.environ.get("SUDO_USER", "")
    if sudo_user and sudo_user != user:
        return f"{user} (sudo from {sudo_user})"
    return user


def now() -> tuple[float, str]:
    """UTC epoch seconds and the same instant in ISO 8601 (milliseconds, `Z`)."""
    epoch = time.time()
    iso = datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")
    return epoch, iso.replace("+00:00", "Z")
