"""Add and remove the `lab` context in the user's config TOML, leaving the rest untouched.

`tomllib` cannot write and a full rewrite would drop the user's comments and layout, so the
lab edits text: it removes every table under `contexts.lab` and appends its own block. The
result is parsed and validated against `console.config` before it replaces the file.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path

from console.config import Context

CONTEXT_NAME = "lab"

_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_\-.\"' ]+?)\s*\]\]?\s*(#.*)?$")


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def context_block(libvirt_hosts: Iterable[tuple[str, str]], prometheus_url: str | None,
                  name: str = CONTEXT_NAME) -> str:
    """TOML for the context: one libvirt backend per (host name, URI), then Prometheus."""
    lines = ["# Written by `novacron lab up`; `novacron lab down` removes it.",
             f"[contexts.{name}]", "poll_interval_s = 2.0", ""]
    for host, uri in libvirt_hosts:
        lines += [f"[[contexts.{name}.backends]]", 'kind = "libvirt"', f"name = {_quote(host)}",
                  f"uri = {_quote(uri)}", ""]
    if prometheus_url:
        lines += [f"[[contexts.{name}.backends]]", 'kind = "prometheus"', 'name = "prometheus"',
                  f"url = {_quote(prometheus_url)}", ""]
    return "\n".join(lines)


def _table_path(line: str) -> list[str] | None:
    match = _HEADER.match(line)
    if not match:
        return None
    return [part.strip().strip("\"'") for part in match.group(1).split(".")]


def strip_context(text: str, name: str = CONTEXT_NAME) -> str:
    """`text` without the tables `[contexts.<name>]`, `[[contexts.<name>.…]]` and their keys.

    Our own comment line just above the block goes with it.
    """
    kept: list[str] = []
    skipping = False
    marker = "# Written by `novacron lab up`"
    for line in text.splitlines():
        path = _table_path(line)
        if path is not None:
            skipping = path[:2] == ["contexts", name]
            if skipping and kept and kept[-1].startswith(marker):
                kept.pop()
        if not skipping:
            kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    return "\n".join(kept) + ("\n" if kept else "")


def with_context(text: str, block: str, name: str = CONTEXT_NAME) -> str:
    """The config text with the context replaced by `block`; validated before returning."""
    base = strip_context(text, name)
    result = (base + "\n" if base else "") + block
    data = tomllib.loads(result)
    Context.model_validate(data["contexts"][name])
    return result


def write_context(path: Path, block: str, name: str = CONTEXT_NAME) -> bool:
    """Write the context into `path`; returns True when the file did not exist before."""
    created = not path.exists()
    text = "" if created else path.read_text(encoding="utf-8")
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path} is not valid TOML ({exc}); fix it, then rerun `lab up`") from exc
    _replace(path, with_context(text, block, name))
    return created


def remove_context(path: Path, delete_if_empty: bool, name: str = CONTEXT_NAME) -> None:
    """Drop the context; delete the file only if the lab created it and nothing else is left."""
    if not path.exists():
        return
    remaining = strip_context(path.read_text(encoding="utf-8"), name)
    if delete_if_empty and not remaining.strip():
        path.unlink()
    else:
        _replace(path, remaining)


def has_context(path: Path, name: str = CONTEXT_NAME) -> bool:
    if not path.exists():
        return False
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return name in data.get("contexts", {})


def _replace(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".novacron-lab.tmp")
    tmp.write_text(text, encoding="utf-8")
    if path.exists():
        os.chmod(tmp, path.stat().st_mode & 0o7777)
    os.replace(tmp, path)
