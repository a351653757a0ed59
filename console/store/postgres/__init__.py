"""The PostgreSQL engine of the store (team mode): several consoles on several bastions share
one database; locks are the server's advisory locks, the activity feed is LISTEN/NOTIFY.

Imported only when a store URL is configured: psycopg and libpq load for team mode alone.
"""

from __future__ import annotations

from console.store import Store
from console.store.postgres.core import PostgresCore, lock_key
from console.store.postgres.feed import ListeningFeed
from console.store.postgres.schema import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "PostgresStore", "lock_key"]


class PostgresStore(PostgresCore, ListeningFeed, Store):
    """The store in a PostgreSQL database (the connection's current schema)."""
