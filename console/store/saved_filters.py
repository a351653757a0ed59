"""Saved filters: an operator's named inventory filters, shared by every console on the host."""

from __future__ import annotations

from console.store import identity, plaintext
from console.store.core import StoreCore


class SavedFilters(StoreCore):
    """Saved-filter methods of the store."""

    async def save_filter(self, name: str, filter_text: str) -> None:
        """Create or replace the filter called `name`."""
        name = plaintext.text(name, 128).strip()
        if not name:
            raise ValueError("a saved filter needs a name")
        saved_at, _ = identity.now()
        async with self._write() as db:
            await db.execute(
                "INSERT INTO saved_filter (name, text, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET text = excluded.text,"
                " updated_at = excluded.updated_at",
                (name, plaintext.text(filter_text), saved_at))

    async def saved_filters(self) -> dict[str, str]:
        """Name → filter text, sorted by name."""
        async with self._read() as db:
            rows = await db.execute_fetchall("SELECT name, text FROM saved_filter ORDER BY name")
        return {str(name): str(text) for name, text in rows}

    async def delete_filter(self, name: str) -> bool:
        """Remove a saved filter; False when there was none of that name."""
        async with self._write() as db:
            cursor = await db.execute("DELETE FROM saved_filter WHERE name = ?", (name,))
            deleted = cursor.rowcount
        return deleted > 0
