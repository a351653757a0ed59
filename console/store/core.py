"""What every store engine shares: its errors, and the engine a store delegates to.

The job modules (`audit`, `migration_rows`, `fleet_snapshots`, `saved_filters`, `activity`)
are written once, in the SQL both SQLite and PostgreSQL understand, with `?` placeholders; an
`Engine` (`console.store.sqlite`, `console.store.postgres`) supplies transaction handles that
take that SQL, and the few things that differ: how a target is taken (`claim_target`) and
released, what an audit row records about the session that took it, and whether the engine
has its own activity channel. Engines import nothing of the store's package, so the package
may load them (PostgreSQL's only when a URL names it) without an import circle.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from console.errors import Code, NovaError
from console.store.holder import Holder

if TYPE_CHECKING:
    from console.store.activity import Activity

STORE_INCOMPATIBLE = Code.CONFIG_INVALID
STORE_UNAVAILABLE = Code.STORE_UNAVAILABLE


class StoreError(NovaError):
    """The store database cannot be opened or written; the detail names the file or server."""


class DuplicateAction(StoreError):
    """An audit row with this idempotency key exists already: the action was recorded once."""


class ClaimRace(Exception):
    """The target is taken but no row names its holder yet: try the claim again shortly,
    outside the transaction (so this console's other work, its holder's release included,
    is not kept waiting)."""


class Cursor(Protocol):
    rowcount: int


class Db(Protocol):
    """A transaction handle, as the job modules use it (aiosqlite's connection has this shape)."""

    async def execute(self, sql: str, parameters: Sequence[Any] = ...) -> Any: ...

    async def execute_fetchall(self, sql: str, parameters: Sequence[Any] = ...) -> Any: ...


class Engine(Protocol):
    """What an engine (`console.store.sqlite`, `console.store.postgres`) gives the store."""

    name: str
    """'sqlite' or 'postgresql'."""
    where: str
    """What to name in messages: the file, or the server and database (never a password)."""
    latest_schema_version: int

    async def close(self) -> None: ...

    def write(self) -> contextlib.AbstractAsyncContextManager[Db]:
        """One write transaction: committed when the block ends, rolled back on error."""
        ...

    def read(self) -> contextlib.AbstractAsyncContextManager[Db]:
        """Reads that see one consistent state of the database."""
        ...

    async def schema_version(self) -> int: ...

    async def claim_target(self, db: Db, context: str, target_id: str, now: float, *,
                           patient: bool = False) -> Holder | None:
        """Take (context, target) inside `db`'s write transaction, or say who holds it;
        `patient`: raise ClaimRace rather than name an unknown holder."""
        ...

    async def peek_holder(self, db: Db, context: str, target_id: str,
                          now: float) -> Holder | None:
        """Who holds the target, without taking it or changing anything."""
        ...

    def session_columns(self, claimed: bool) -> dict[str, Any]:
        """Audit columns naming this console's session (pid, host, database session);
        `claimed`: the row holds the target it names."""
        ...

    async def claimed(self, action_id: int, context: str, target_id: str) -> None:
        """The row `action_id` now holds the target claimed for it (committed)."""

    async def unclaim(self, context: str, target_id: str) -> None:
        """A claim whose row was never written (the insert failed): give the target back."""

    async def release(self, db: Db, action_id: int) -> None:
        """The action finished (its outcome is being committed in `db`): free the target."""

    async def durability(self) -> str:
        """The settings an acknowledged write relies on, as the database reports them."""
        ...

    async def subscribe(self) -> AsyncGenerator[Activity, None] | None:
        """The engine's own activity channel, already listening; None: poll the tables."""
        ...


class StoreCore:
    """The store's hold on its engine, which the job modules reach through `self.engine`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def where(self) -> str:
        return self.engine.where

    @property
    def latest_schema_version(self) -> int:
        return self.engine.latest_schema_version

    async def close(self) -> None:
        await self.engine.close()

    def _write(self) -> contextlib.AbstractAsyncContextManager[Db]:
        return self.engine.write()

    def _read(self) -> contextlib.AbstractAsyncContextManager[Db]:
        return self.engine.read()

    async def schema_version(self) -> int:
        return await self.engine.schema_version()
