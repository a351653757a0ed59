"""What every store engine shares: its errors and the two ways its methods use the database.

The job modules (`audit`, `migration_history`, `fleet_snapshots`, `saved_filters`) are written
once, in the SQL both SQLite and PostgreSQL understand, with `?` placeholders; an engine
(`console.store.sqlite`, `console.store.postgres`) supplies a transaction handle that takes
that SQL, and the few things that differ: how a target is taken (`claim_target`), released
and what the audit row records about the session that took it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any, Protocol

from console.errors import Code, NovaError
from console.store.holder import Holder

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


class StoreCore:
    """The engine's side of a store: transactions, the target lock, the session's identity."""

    where: str
    """What to name in messages: the file, or the server and database (never a password)."""

    engine: str
    """'sqlite' or 'postgresql'."""

    async def close(self) -> None:
        raise NotImplementedError

    def _write(self) -> contextlib.AbstractAsyncContextManager[Db]:
        """One write transaction: committed when the block ends, rolled back on error."""
        raise NotImplementedError

    def _read(self) -> contextlib.AbstractAsyncContextManager[Db]:
        """Reads that see one consistent state of the database."""
        raise NotImplementedError

    async def schema_version(self) -> int:
        raise NotImplementedError

    # -- the per-target lock, engine by engine ---------------------------------------------

    async def claim_target(self, db: Db, context: str, target_id: str, now: float, *,
                           patient: bool = False) -> Holder | None:
        """Take (context, target) inside `db`'s write transaction, or say who holds it;
        `patient`: raise ClaimRace rather than name an unknown holder."""
        raise NotImplementedError

    async def peek_holder(self, db: Db, context: str, target_id: str,
                          now: float) -> Holder | None:
        """Who holds the target, without taking it or changing anything."""
        raise NotImplementedError

    def session_columns(self, claimed: bool) -> dict[str, Any]:
        """Audit columns naming this console's session (pid, host, database session);
        `claimed`: the row holds the target it names."""
        return {}

    async def claimed(self, action_id: int, context: str, target_id: str) -> None:
        """The row `action_id` now holds the target claimed for it (committed)."""

    async def unclaim(self, context: str, target_id: str) -> None:
        """A claim whose row was never written (the insert failed): give the target back."""

    async def release(self, db: Db, action_id: int) -> None:
        """The action finished (its outcome is being committed in `db`): free the target."""
