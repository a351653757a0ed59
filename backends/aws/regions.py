"""Region names as botocore knows them, read from botocore's own partition data file.

Light on purpose: the file is found with `importlib.util.find_spec` and read as JSON, so
validating a config neither imports botocore nor touches the network.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from importlib.util import find_spec
from pathlib import Path

REGION_SHAPE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")


@functools.cache
def known_regions() -> frozenset[str]:
    """Every region of every partition in botocore's `partitions.json` (the `*-global`
    pseudo-regions left out); empty when botocore is not installed."""
    spec = find_spec("botocore")
    if spec is None or not spec.submodule_search_locations:
        return frozenset()
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "partitions.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return frozenset()
    return frozenset(name for partition in data.get("partitions", ())
                     for name in partition.get("regions", {})
                     if not name.endswith("-global"))


def region_problem(name: str) -> str | None:
    """Why `name` is not a region botocore knows ("did you mean …" when one is close), or
    None when it is fine. With no partition data to check against, only the shape is."""
    known = known_regions()
    if name in known or (not known and REGION_SHAPE.match(name)):
        return None
    close = closest(name, sorted(known))
    hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else \
        "; write a region name like 'eu-west-1', or \"all\" for every enabled region"
    return f"unknown AWS region {name!r}{hint}"


def closest(name: str, choices: list[str]) -> list[str]:
    """The nearest choices, all of them when several are equally near ("us-est-1" is one
    letter from both us-east-1 and us-west-1)."""
    scored = sorted(((difflib.SequenceMatcher(None, name, c).ratio(), c) for c in choices),
                    reverse=True)
    if not scored or scored[0][0] < 0.6:
        return []
    return sorted(c for ratio, c in scored[:3] if ratio == scored[0][0])
