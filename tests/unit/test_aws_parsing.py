"""`backends.aws.parsing.parse_timestamp` reads every form botocore reads, to the same instant
(ISO 8601 by `fromisoformat`, the rest handed to botocore)."""

from __future__ import annotations

import pytest
from botocore.utils import parse_timestamp as botocore_timestamp

from backends.aws.parsing import parse_timestamp


@pytest.mark.parametrize("value", [
    "2026-12-01T14:07:32.000Z",
    "2026-12-01T14:07:32Z",
    "2026-12-01T14:07:32.123456+02:00",
    "2026-12-01T14:07:32",
    "1764598052",
    "1764598052.5",
    1764598052,
    "Tue, 01 Dec 2026 14:07:32 GMT",
    "20261201",
])
def test_the_same_instant_as_botocore(value: object) -> None:
    ours, theirs = parse_timestamp(value), botocore_timestamp(value)
    assert ours == theirs
    assert (ours.utcoffset() is None) == (theirs.utcoffset() is None)
