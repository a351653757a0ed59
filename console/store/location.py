"""Where the store lives: a SQLite file (the default, one operator) or a PostgreSQL database
named by a libpq URL (team mode), and the one rule our config enforces on such a URL.

The URL goes to libpq unchanged, so everything libpq understands works as operators expect:
`sslmode`, `sslrootcert`, `target_session_attrs`, `PG*` variables, service files. Only a
password is refused: it belongs in `PGPASSFILE`/`~/.pgpass` or `PGPASSWORD`, never in a
config file that gets copied around and pasted into tickets.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from console.errors import Code, NovaError

SCHEMES = ("postgresql", "postgres")


@dataclass(frozen=True, slots=True)
class Location:
    """A parsed store setting: exactly one of `path` and `url`."""

    path: Path | None = None
    url: str | None = None

    @property
    def shown(self) -> str:
        """What messages name: the file, or the URL (it never carries a password)."""
        return self.url if self.url is not None else str(self.path)


def is_url(value: str) -> bool:
    return value.split(":", 1)[0].lower() in SCHEMES and "://" in value


def password_problem(url: str) -> str | None:
    """Why `url` may not be used as it is (it carries a password), or None."""
    parts = urlsplit(url)
    query = {k.lower() for k, _ in parse_qsl(parts.query, keep_blank_values=True)}
    if parts.password is not None or "password" in query:
        return ("the store URL carries a password: remove it, and give the password to libpq "
                "in PGPASSFILE or ~/.pgpass (or PGPASSWORD in the environment)")
    return None


def without_password(url: str) -> str:
    """`url` with any password masked, for a message about a URL we refused."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", ":***@", 1)
    query = "&".join(f"{k}=***" if k.lower() == "password" else f"{k}={v}"
                     for k, v in parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def parse(value: str | Path) -> Location:
    """A store setting as the config gives it: a file path or a `postgresql://` URL."""
    if isinstance(value, Path) or not is_url(value):
        return Location(path=Path(value).expanduser())
    problem = password_problem(value)
    if problem is not None:
        raise NovaError(Code.CONFIG_INVALID, f"store = {without_password(value)!r}", problem)
    return Location(url=value)
