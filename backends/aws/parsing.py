"""botocore's response parsing, made kinder to the event loop (installed per session).

boto3 calls run on the source's worker threads, but they share the GIL with the event loop, and
the latency bench (5,000 instances, 10 (profile, region) pairs listed at once) showed two costs
of botocore's parsing there:

- the XML body goes to expat in one `feed`, a C call that holds the GIL for its whole length:
  31 ms for a 500-instance DescribeInstances page (1.6 MB), longer on a loaded machine, during
  which the event loop cannot run at all. Fed in `CHUNK` pieces, the GIL can change hands
  between pieces (the same parser, the same tree, a little faster overall);
- every timestamp goes through dateutil, a fifth of the whole parse. ISO 8601 ones (what EC2,
  CloudWatch and STS send) are read by `datetime.fromisoformat`; anything else still by
  botocore's own `parse_timestamp`;
- ten threads parsing ten answers at once (one per (profile, region)) gain nothing under the
  GIL, but the event loop then competes with all of them each time it wants the GIL back. One
  answer is parsed at a time per process (`PARSING`); the calls still wait on the network
  side by side.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from botocore.compat import ETree, XMLParseError
from botocore.parsers import (
    PROTOCOL_PARSERS,
    BaseXMLResponseParser,
    ResponseParserError,
    ResponseParserFactory,
)
from botocore.utils import parse_timestamp as botocore_timestamp

CHUNK = 64 * 1024
"""Bytes of XML per `feed` (about a millisecond of expat)."""
PARSING = threading.Lock()
"""Held while a response is parsed (by any source's client in this process)."""


def parse_timestamp(value: Any) -> dt.datetime:
    """`2026-12-01T14:07:32.000Z` by `fromisoformat`; epoch numbers, RFC 822 dates and any
    other form by botocore (which reads a bare number as epoch seconds, so only strings shaped
    like an ISO date-time are taken here)."""
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            pass
    return botocore_timestamp(value)


class ChunkedXml(BaseXMLResponseParser):
    """`_parse_xml_string_to_dom` as botocore writes it, but fed `CHUNK` bytes at a time."""

    def _parse_xml_string_to_dom(self, xml_string: Any) -> Any:
        try:
            parser = ETree.XMLParser(target=ETree.TreeBuilder(), encoding=self.DEFAULT_ENCODING)
            for start in range(0, len(xml_string), CHUNK):
                parser.feed(xml_string[start:start + CHUNK])
            root = parser.close()
        except XMLParseError as e:
            raise ResponseParserError(
                f"Unable to parse response ({e}), "
                f"invalid XML received. Further retries may succeed:\n{xml_string}") from e
        return root


class OneAtATime:
    """`parse` under `PARSING`."""

    def parse(self, response: Any, shape: Any) -> Any:
        with PARSING:
            return super().parse(response, shape)  # type: ignore[misc]


_OURS: dict[type, type] = {}


def _ours(cls: type) -> type:
    """botocore's parser class for a protocol, parsing one at a time (and XML in chunks)."""
    found = _OURS.get(cls)
    if found is None:
        chunked = issubclass(cls, BaseXMLResponseParser) and hasattr(cls, "_parse_xml_string_to_dom")
        bases = (OneAtATime, ChunkedXml, cls) if chunked else (OneAtATime, cls)
        found = _OURS.setdefault(cls, type(f"Ours{cls.__name__}", bases, {}))
    return found


class ParserFactory(ResponseParserFactory):
    """botocore's factory, with `parse_timestamp`, `OneAtATime` and `ChunkedXml`."""

    def __init__(self) -> None:
        super().__init__()
        self.set_parser_defaults(timestamp_parser=parse_timestamp)

    def create_parser(self, protocol_name: str) -> Any:
        return _ours(PROTOCOL_PARSERS[protocol_name])(**self._defaults)
