"""Add and remove the lab's contexts in the user's config TOML, leaving the rest untouched.

Two contexts: `lab` (one libvirt backend per lab host, plus the lab Prometheus for metrics)
and `lab-prom` (the inventory from the lab Prometheus, acting on a VM through its host's
libvirt URI, as a fleet of thousands of hosts would be run). They are written, replaced and
removed together.

`tomllib` cannot write and a full rewrite would drop the user's comments and layout, so the
lab edits text: it removes every table under `contexts.lab` and `contexts.lab-prom` and
appends its own block. The result is parsed and validated against `console.config` before it
replaces the file.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path

from console.config import Context
from console.lab.pool import SPREAD_BY, TEMPLATE, LabTemplate

CONTEXT_NAME = "lab"
PROM_SUFFIX = "-prom"
"""`lab-prom`: the companion context whose inventory comes from Prometheus."""
SSH_SUFFIX = "-ssh"
"""`lab-ssh`: every host reached through the lab's bastion with asyncssh."""

_MARKER = "# Written by `novacron lab up`"
_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_\-.\"' ]+?)\s*\]\]?\s*(#.*)?$")


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _value(value: object) -> str:
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)


def context_block(libvirt_hosts: Iterable[tuple[str, str]], prometheus_url: str | None,
                  name: str = CONTEXT_NAME, ssh_config: str | None = None,
                  template: LabTemplate | None = None, store: str | None = None) -> str:
    """TOML for the contexts: `name` with one libvirt backend per (host name, URI), then
    Prometheus; with Prometheus also `name`-prom, its inventory from Prometheus and each
    host's URI in `host_uris` (the lab's Prometheus labels every series `instance=<host>`).
    `store`: the store URL both contexts name (the lab's PostgreSQL, for team mode)."""
    hosts = list(libvirt_hosts)
    marker = f"{_MARKER}; `novacron lab down` removes it."
    store_line = [f"store = {_quote(store)}"] if store else []
    lines = [marker, f"[contexts.{name}]", "poll_interval_s = 2.0", *store_line]
    if template is not None:  # what `novacron vm create --template lab-tiny` makes
        lines += [f"spread_by = {_quote(SPREAD_BY)}", "",
                  f"[contexts.{name}.templates.{TEMPLATE}]"]
        lines += [f"{key} = {_value(value)}" for key, value in template.fields().items()]
    lines.append("")
    for host, uri in hosts:
        lines += [f"[[contexts.{name}.backends]]", 'kind = "libvirt"', f"name = {_quote(host)}",
                  f"uri = {_quote(uri)}", ""]
    if prometheus_url:
        lines += [f"[[contexts.{name}.backends]]", 'kind = "prometheus"', 'name = "prometheus"',
                  f"url = {_quote(prometheus_url)}", ""]
        uris = ", ".join(f"{_quote(host)} = {_quote(uri)}" for host, uri in hosts)
        prom = name + PROM_SUFFIX
        lines += [marker, f"[contexts.{prom}]", "poll_interval_s = 2.0", *store_line, "",
                  f"[[contexts.{prom}.backends]]", 'kind = "prometheus"', 'name = "prometheus"',
                  f"url = {_quote(prometheus_url)}", "inventory = true",
                  f"host_uris = {{ {uris} }}", ""]
    if ssh_config:
        lines += ssh_context_lines(hosts, prometheus_url, ssh_config, name + SSH_SUFFIX, marker)
    return "\n".join(lines)


def ssh_context_lines(hosts: list[tuple[str, str]], prometheus_url: str | None, ssh_config: str,
                      name: str, marker: str) -> list[str]:
    """`lab-ssh`: each host's libvirt socket tunnelled over SSH through the bastion (the ssh
    config's ProxyJump); `uri` stays the host's own, the target of peer-to-peer migrations."""
    lines = [marker, f"[contexts.{name}]", "poll_interval_s = 2.0", ""]
    for host, uri in hosts:
        lines += [f"[[contexts.{name}.backends]]", 'kind = "libvirt"', f"name = {_quote(host)}",
                  f"uri = {_quote(uri)}", 'transport = "ssh"', f"ssh_host = {_quote(host)}",
                  f"ssh_config = {_quote(ssh_config)}", ""]
    if prometheus_url:
        lines += [f"[[contexts.{name}.backends]]", 'kind = "prometheus"', 'name = "prometheus"',
                  f"url = {_quote(prometheus_url)}", ""]
    return lines


def _ours(name: str) -> tuple[str, ...]:
    """The contexts the lab writes under `name`: it and its Prometheus and SSH companions."""
    return name, name + PROM_SUFFIX, name + SSH_SUFFIX


def _table_path(line: str) -> list[str] | None:
    match = _HEADER.match(line)
    if not match:
        return None
    return [part.strip().strip("\"'") for part in match.group(1).split(".")]


def strip_context(text: str, name: str = CONTEXT_NAME) -> str:
    """`text` without the tables `[contexts.<name>]`, `[[contexts.<name>.…]]` and their keys,
    and the same for `<name>-prom` and `<name>-ssh`. Our own comment line just above a block goes with it."""
    kept: list[str] = []
    skipping = False
    for line in text.splitlines():
        path = _table_path(line)
        if path is not None:
            skipping = len(path) > 1 and path[0] == "contexts" and path[1] in _ours(name)
            if skipping and kept and kept[-1].startswith(_MARKER):
                kept.pop()
        if not skipping:
            kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    return "\n".join(kept) + ("\n" if kept else "")


def with_context(text: str, block: str, name: str = CONTEXT_NAME) -> str:
    """The config text with the contexts replaced by `block`; validated before returning."""
    base = strip_context(text, name)
    result = (base + "\n" if base else "") + block
    contexts = tomllib.loads(result)["contexts"]
    for ours in _ours(name):
        if ours in contexts:
            Context.model_validate(contexts[ours])
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
    """Drop the contexts; delete the file only if the lab created it and nothing else is left."""
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
