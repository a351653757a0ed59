"""`decode_answer` decodes a large Prometheus answer in slices (the GIL changes hands between
them) and must give exactly what one `json.loads` gives, whatever the labels contain."""

from __future__ import annotations

import json

import pytest

from backends.prometheus import parse
from backends.prometheus.parse import decode_answer


def answer(n: int, label: str = "vm") -> bytes:
    result = [{"metric": {"__name__": "x", "domain": f"{label}-{i}", "uuid": str(i)},
               "value": [1700000000.5, str(i * 0.5)]} for i in range(n)]
    return json.dumps({"status": "success", "data": {"resultType": "vector",
                                                    "result": result}}).encode()


@pytest.mark.parametrize("label", [
    "vm", 'he said "},{\\"metric\\":" twice', "\u202eevil\x1b[31m", "}, {\"metric\":",
])
def test_sliced_decode_equals_one_loads(label: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parse, "SLICE_BYTES", 4096)  # many slices on a small answer
    body = answer(2000, label)
    assert len(body) > 2 * parse.SLICE_BYTES
    assert decode_answer(body) == json.loads(body)


def test_warnings_and_spacing_fall_back_to_one_decode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parse, "SLICE_BYTES", 4096)
    data = json.loads(answer(1000))
    data["warnings"] = ["partial response"]
    body = json.dumps(data, indent=1).encode()
    assert decode_answer(body) == data


@pytest.mark.parametrize("body", [b"", b"{", answer(3000)[:-200], b"<html>bad gateway</html>"])
def test_malformed_answers_are_a_clear_error(body: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parse, "SLICE_BYTES", 4096)
    with pytest.raises(parse.MalformedResponse):
        decode_answer(body)
