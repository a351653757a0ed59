"""Turn what callers hand the store into plain, secret-free text before it is written.

Backend text is sanitized on entry already, but exception messages and parameters come
from our own code paths too; one last pass costs little and keeps escape bytes and
credentials out of a file that outlives the session.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from console.sanitize import clean

REDACTED = "<redacted>"
_SECRET_KEY = re.compile(r"pass(word|wd|phrase)?|secret|token|credential|private|api_?key",
                         re.IGNORECASE)


def text(value: object, max_len: int = 2000) -> str:
    """A single inert line (control, C1 and bidi characters replaced)."""
    return clean("" if value is None else value, max_len=max_len)


def _scrub(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): REDACTED if _SECRET_KEY.search(str(k)) else _scrub(v)
                for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub(v) for v in value]
    if isinstance(value, str):
        return text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return text(value)


def params_json(params: Mapping[str, Any] | None) -> str:
    """Parameters as sorted JSON; values under secret-looking keys are replaced."""
    return json.dumps(_scrub(dict(params or {})), sort_keys=True, ensure_ascii=False)
