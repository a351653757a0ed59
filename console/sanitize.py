"""Make untrusted text (names, tags, descriptions from any backend) inert.

Every string that enters from a backend passes through `clean()` once, at ingestion, so no
control sequence, C1 code or bidi override can reach the terminal or the audit log later.
Markup is never interpreted downstream (widgets render `rich.text.Text`, not markup), so
brackets are kept as they are.
"""

from __future__ import annotations

import re
import unicodedata

REPLACEMENT = "\N{REPLACEMENT CHARACTER}"

# C0 controls (incl. ESC, BEL, CR, LF, TAB), DEL, C1 controls, and Unicode bidi controls.
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f\x80-\x9f"
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
    "\u2028\u2029\ufeff]"
)


def clean(text: object, *, max_len: int = 256) -> str:
    """Return `text` as a single safe line: unsafe code points replaced, length bounded."""
    s = "" if text is None else str(text)
    s = unicodedata.normalize("NFC", s)
    s = _UNSAFE.sub(REPLACEMENT, s)
    if len(s) > max_len:
        s = s[: max_len - 1] + "…"
    return s


def clean_all(items: object) -> tuple[str, ...]:
    """Clean each string of an iterable of strings (tags, addresses)."""
    if not items:
        return ()
    return tuple(clean(i) for i in items)  # type: ignore[attr-defined]
