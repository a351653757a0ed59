"""Structured logs: JSON lines in the state directory, never on the terminal.

The TUI owns the terminal, so nothing may print to it; each record carries a correlation id
(`cid`) when it belongs to an action or a poll, so one incident can be followed end to end.
No secret is logged: callers pass names and codes, not credentials.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import time
from pathlib import Path

LOG_NAME = "novacron.log"
_configured = False


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("cid", "source", "action", "target", "code"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=True)


def setup(state_dir: Path, level: int = logging.INFO) -> Path:
    """Send the `novacron` loggers to a rotating JSON-lines file; returns its path."""
    global _configured
    path = state_dir / LOG_NAME
    if _configured:
        return path
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=5_000_000, backupCount=3,
                                                   encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    for name in ("novacron", "console", "backends", "screens"):
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.addHandler(handler)
        logger.propagate = False
    _configured = True
    return path
