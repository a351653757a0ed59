"""FleetSnapshot ⇄ compressed bytes, fast enough for 100k VMs.

Rows are stored column by column in chunks (a column of few distinct values as uniques plus
indexes): columns are built and rebuilt with C-level `map` calls, and each chunk is one short
`json` call, so a thread encoding or decoding lets the event loop run between chunks. The
header names each class's fields: a snapshot written before a model gained or lost a field
still loads (unknown fields are dropped, missing ones take their defaults). Enums are stored
as their values.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import types
import typing
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from enum import Enum
from itertools import islice, repeat, starmap
from operator import attrgetter
from typing import Any

from console.models import VM, Disk, FleetSnapshot, Host, HostState, SourceHealth, VMState

FORMAT = 3
CHUNK_ROWS = 5000
COMPRESSION_LEVEL = 1
"""zlib level 1: the fastest; a higher level saves about a tenth of the size at twice the time."""

ROW_CLASSES: dict[str, type[Any]] = {"Host": Host, "VM": VM, "Disk": Disk,
                                     "SourceHealth": SourceHealth}
_SECTIONS: dict[str, type[Any]] = {"hosts": Host, "vms": VM, "health": SourceHealth}
_ENUM_FALLBACK: dict[type[Enum], Enum] = {VMState: VMState.UNKNOWN, HostState: HostState.STALE}

Column = Callable[[Sequence[Any]], Iterable[Any]]
"""Turns one stored column back into field values."""


class SnapshotFormatError(ValueError):
    """The stored bytes are not a snapshot this code can read."""


def _field_names(cls: type[Any]) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def _as_row(obj: Any) -> list[Any]:
    """json `default`: a nested dataclass (a VM's Disk) becomes its positional row."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return [getattr(obj, name) for name in _field_names(type(obj))]
    raise TypeError(f"cannot store {type(obj).__name__} in a snapshot")


def _lines(snap: FleetSnapshot) -> Iterator[str]:
    header = {"format": FORMAT, "context": snap.context, "taken_at": snap.taken_at,
              "generation": snap.generation,
              "fields": {name: _field_names(cls) for name, cls in ROW_CLASSES.items()}}
    yield json.dumps(header)
    for section, cls in _SECTIONS.items():
        items: Sequence[Any] = getattr(snap, section)
        getters = [attrgetter(name) for name in _field_names(cls)]
        for start in range(0, len(items), CHUNK_ROWS):
            chunk = items[start:start + CHUNK_ROWS]
            columns = [_pack(list(map(get, chunk))) for get in getters]
            yield json.dumps([section, columns], default=_as_row, ensure_ascii=False,
                             separators=(",", ":"))


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic GC while a large fleet is encoded or built.

    Millions of short-lived, acyclic objects otherwise set off several full collections over
    everything the process holds, each stopping every thread, the event loop included, for
    hundreds of milliseconds.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.freeze()  # the first collection after would walk all that was built at once
            gc.enable()


def _pack(column: list[Any]) -> list[Any] | dict[str, list[Any]]:
    """A column of few distinct values (host, state, tags) as uniques + indexes.

    Fewer, smaller JSON tokens, and decoding shares one object per distinct value instead
    of building 100k equal strings.
    """
    if len(column) < 64:
        return column
    try:
        index = {value: i for i, value in enumerate(dict.fromkeys(column))}
    except TypeError:  # an unhashable value: keep the column as it is
        return column
    if len(index) > len(column) // 4:
        return column
    return {"u": list(index), "i": list(map(index.__getitem__, column))}


def encode(snap: FleetSnapshot) -> bytes:
    """Compressed, self-describing bytes for `snap`."""
    with _collector_paused():
        return _encode(snap)


def _encode(snap: FleetSnapshot) -> bytes:
    packer = zlib.compressobj(COMPRESSION_LEVEL)
    parts = [packer.compress(line.encode() + b"\n") for line in _lines(snap)]
    parts.append(packer.flush())
    return b"".join(parts)


class _Reader:
    """Rebuilds dataclasses from columns laid out as one particular header describes."""

    def __init__(self, stored_fields: dict[str, list[str]]) -> None:
        self._stored = stored_fields
        self._hints: dict[type[Any], dict[str, Any]] = {}

    def rows(self, cls: type[Any], columns: Sequence[Any]) -> Iterator[Any]:
        """Instances of `cls` from one chunk of stored columns."""
        stored = self._stored[cls.__name__]
        if len(columns) != len(stored):
            raise SnapshotFormatError(f"{cls.__name__}: {len(columns)} columns, "
                                      f"header says {len(stored)}")
        count = len(_unpacked_size(columns[0])) if columns else 0
        by_name = dict(zip(stored, columns, strict=True))
        hints = self._hints.setdefault(cls, typing.get_type_hints(cls))
        values: list[Iterable[Any]] = []
        for field in dataclasses.fields(cls):
            if field.name in by_name:
                convert = self._column(hints[field.name])
                column = by_name[field.name]
                if isinstance(column, dict):  # uniques + indexes: convert each unique once
                    uniques = list(convert(column["u"])) if convert else column["u"]
                    values.append(map(uniques.__getitem__, column["i"]))
                else:
                    values.append(convert(column) if convert else column)
            elif field.default is not dataclasses.MISSING:
                values.append(repeat(field.default, count))
            elif field.default_factory is not dataclasses.MISSING:
                values.append(field.default_factory() for _ in range(count))
            else:
                raise SnapshotFormatError(f"{cls.__name__}.{field.name} is not stored")
        return map(cls, *values)

    def _nested(self, cls: type[Any]) -> Column:
        """A column of tuples of nested instances (a VM's disks) from their positional rows."""
        if list(self._stored[cls.__name__]) == list(_field_names(cls)):
            return lambda column: [tuple(starmap(cls, rows)) for rows in column]

        def convert(column: Sequence[Any]) -> list[Any]:
            flat = [row for rows in column for row in rows]
            width = len(self._stored[cls.__name__])
            made = iter(self.rows(cls, [list(c) for c in zip(*flat, strict=True)])
                        if flat else ())
            if flat and any(len(row) != width for row in flat):
                raise SnapshotFormatError(f"{cls.__name__}: rows of the wrong width")
            return [tuple(islice(made, len(rows))) for rows in column]

        return convert

    def _column(self, hint: Any) -> Column | None:
        """How to turn a stored column into values of type `hint` (None: as stored)."""
        origin = typing.get_origin(hint)
        if isinstance(hint, type) and issubclass(hint, Enum):
            return _enum_column(hint)
        if origin is tuple:
            item = typing.get_args(hint)[0]
            if isinstance(item, type) and dataclasses.is_dataclass(item):
                return self._nested(item)
            return lambda column: map(tuple, column)
        if origin in (typing.Union, types.UnionType):
            options = [a for a in typing.get_args(hint) if a is not type(None)]
            inner = self._column(options[0]) if len(options) == 1 else None
            if inner is not None:
                return _skipping_none(inner)
        return None


def _unpacked_size(column: Any) -> Sequence[Any]:
    return column["i"] if isinstance(column, dict) else column


def _skipping_none(inner: Column) -> Column:
    """An optional field: convert the values that are present, keep the Nones."""

    def convert(column: Sequence[Any]) -> list[Any]:
        converted = iter(inner([v for v in column if v is not None]))
        return [None if v is None else next(converted) for v in column]

    return convert


def _enum_column(cls: type[Enum]) -> Column:
    by_value = {member.value: member for member in cls}
    fallback = _ENUM_FALLBACK.get(cls)

    def convert(column: Sequence[Any]) -> list[Any]:
        members = list(map(by_value.get, column, repeat(fallback)))
        if fallback is None and None in members:
            raise SnapshotFormatError(f"unknown {cls.__name__} value in the snapshot")
        return members

    return convert


def decode(blob: bytes) -> FleetSnapshot:
    """The snapshot `encode` wrote (with `restored=True`); SnapshotFormatError otherwise."""
    with _collector_paused():
        return _decode(blob)


def _decode(blob: bytes) -> FleetSnapshot:
    try:
        lines = zlib.decompress(blob).decode().splitlines()
        header = json.loads(lines[0])
        if header.get("format") != FORMAT:
            raise SnapshotFormatError(f"snapshot format {header.get('format')!r}")
        reader = _Reader(header["fields"])
        sections: dict[str, list[Any]] = {name: [] for name in _SECTIONS}
        for line in lines[1:]:
            section, columns = json.loads(line)
            sections[section].extend(reader.rows(_SECTIONS[section], columns))
        return FleetSnapshot(
            context=header["context"], taken_at=header["taken_at"],
            generation=header.get("generation", 0), restored=True,
            hosts=tuple(sections["hosts"]), vms=tuple(sections["vms"]),
            health=tuple(sections["health"]),
        )
    except SnapshotFormatError:
        raise
    except (zlib.error, UnicodeDecodeError, IndexError, KeyError, TypeError, ValueError) as exc:
        raise SnapshotFormatError(f"unreadable snapshot: {exc}") from exc
