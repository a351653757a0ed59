"""The PostgreSQL engine of the store (team mode): several consoles on several bastions share
one database; locks are the server's advisory locks, the activity feed is LISTEN/NOTIFY.

Loaded only when a store URL is configured: psycopg and libpq load for team mode alone.
"""

from __future__ import annotations

from console.store.postgres.core import SESSION_GONE, PostgresEngine, lock_key
from console.store.postgres.schema import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "SESSION_GONE", "PostgresEngine", "lock_key"]
