"""Where the store lives: a SQLite file (the default, one operator) or a PostgreSQL database
named by a libpq URL (team mode).

The URL goes to libpq unchanged, so everything libpq understands works as operators expect:
`sslmode`, `sslrootcert`, `target_session_attrs`, `PG*` variables, service files. Only a
password is refused (`console.config.store_password_problem`, the rule the config applies
too): it belongs in `PGPASSFILE`/`~/.pgpass` or `PGPASSWORD`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from console.config import is_store_url, store_password_problem, without_password
from console.errors import Code, NovaError


@dataclass(frozen=True, slots=True)
class Location:
    """A parsed store setting: exactly one of `path` and `url`."""

    path: Path | None = None
    url: str | None = None


def parse(value: str | Path) -> Location:
    """A store setting as the config gives it: a file path or a `postgresql://` URL."""
    if isinstance(value, Path) or not is_store_url(value):
        return Location(path=Path(value).expanduser())
    problem = store_password_problem(value)
    if problem is not None:
        raise NovaError(Code.CONFIG_INVALID, f"store = {without_password(value)!r}", problem)
    return Location(url=value)
