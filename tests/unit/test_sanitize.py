"""Untrusted text is made inert once, at ingestion: no byte of it can drive the terminal."""

from __future__ import annotations

import pytest

from console.sanitize import REPLACEMENT, clean, clean_all

R = REPLACEMENT


@pytest.mark.parametrize(("raw", "expected"), [
    ("\x1b[2J\x1b[Hpwned", f"{R}[2J{R}[Hpwned"),  # ESC/CSI: clear screen, home
    ("\x1b]52;c;ZWNobyBoaQ==\x07", f"{R}]52;c;ZWNobyBoaQ=={R}"),  # OSC 52 clipboard write (BEL)
    ("\x1b]52;c;AAAA\x1b\\", f"{R}]52;c;AAAA{R}\\"),  # OSC 52 with ST
    ("\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\", f"{R}]8;;http://evil{R}\\click{R}]8;;{R}\\"),
    ("\x9b2J", f"{R}2J"),  # 8-bit CSI
    ("\x9d52;c;AAAA\x9c", f"{R}52;c;AAAA{R}"),  # 8-bit OSC … ST
    ("\x85next\x8dline", f"{R}next{R}line"),  # NEL, RI
    ("invoice\u202egpj.exe", f"invoice{R}gpj.exe"),  # RLO
    ("a\u2066b\u2069c\u200fd\u061ce", f"a{R}b{R}c{R}d{R}e"),  # isolates, RLM, ALM
    ("line1\nline2\rx\ty", f"line1{R}line2{R}x{R}y"),  # one line, always
    ("bell\x07del\x7fnul\x00", f"bell{R}del{R}nul{R}"),
    ("\u2028\u2029\ufeff", R * 3),
])
def test_controls_are_replaced(raw: str, expected: str) -> None:
    out = clean(raw)
    assert out == expected
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in out)


@pytest.mark.parametrize("text", [
    "vm-[/]x", "[@click=app.quit]quit[/]", "[bold red]x[/bold red]", "[link=http://e]a[/link]",
    "web-01 (prod) {a} <b> & 'c' \"d\"", "émile-ünïcödé-数据库-🚀",
])
def test_printable_text_and_markup_brackets_are_kept(text: str) -> None:
    assert clean(text) == text


def test_normalized_and_bounded() -> None:
    assert clean("e\u0301") == "é"  # NFC: one code point, one cell
    long = clean("x" * 1000)
    assert len(long) == 256 and long.endswith("…")
    assert len(clean("x" * 1000, max_len=20)) == 20


def test_non_strings() -> None:
    assert clean(None) == ""
    assert clean(42) == "42"
    assert clean_all(None) == ()
    assert clean_all(["ok", "\x1bbad"]) == ("ok", f"{R}bad")
