"""Textual's `Footer`, without the leak of its key widgets.

The footer rebuilds its `FooterKey`s whenever the screen's bindings change (every page switch
of the wall, every focus change). Each key is created with `data_bind(compact=Footer.compact)`,
which registers a watcher on the footer itself; Textual drops a watcher of a removed widget
only when the watched value next changes, and `compact` never does. So every rebuild kept the
old keys (and their styles and caches) alive: about 16 KiB per wall page switch, some
70 MiB a day at one switch every 20 s.
Textualize/textual#6666; remove this class when Textual prunes those watchers itself.
"""

from __future__ import annotations

from textual.widgets import Footer as TextualFooter


class Footer(TextualFooter):
    """`Footer` that forgets the watchers of the keys each rebuild removed."""

    async def recompose(self) -> None:
        await super().recompose()
        self.drop_dead_watchers()

    def drop_dead_watchers(self) -> None:
        """Forget watchers registered on this footer by widgets that were removed since."""
        watchers: dict[str, list[tuple[object, object]]] = getattr(self, "__watchers", {})
        for entries in watchers.values():
            entries[:] = [(node, callback) for node, callback in entries
                          if not getattr(node, "_closing", False)]
