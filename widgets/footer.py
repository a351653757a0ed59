"""Textual's `Footer`, rebuilt only when what it shows changes, without leaking its keys.

Rebuilt only on change: Textual's footer recomposes all its `FooterKey`s whenever the screen's
bindings *may* have changed: every focus change (`/` into the filter box, escape out of it),
every return to a screen. Each rebuild mounts and styles some 25 widgets (~20 ms of the event
loop's time, a frame and more of keypress latency), yet focus moving between the table and
the filter box changes nothing the footer shows. So the footer remembers what it last showed
(every shown key, its description, whether it is enabled, its tooltip, its group) and skips a
rebuild that would draw the same.

No leak: each key is created with `data_bind(compact=Footer.compact)`, which registers a
watcher on the footer itself; Textual drops a watcher of a removed widget only when the
watched value next changes, and `compact` never does. So every rebuild kept the old keys (and
their styles and caches) alive: about 16 KiB per wall page switch, some 70 MiB a day at one
switch every 20 s. Textualize/textual#6666; remove `drop_dead_watchers` when Textual prunes
those watchers itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.widgets import Footer as TextualFooter

if TYPE_CHECKING:
    from textual.screen import Screen

Shown = tuple[object, ...]


class Footer(TextualFooter):
    """`Footer` that rebuilds only when its keys change and forgets the removed keys' watchers."""

    _shown: Shown | None = None

    def shown_keys(self) -> Shown:
        """What a rebuild would draw: the inputs of `Footer.compose`, in order."""
        app = self.app
        keys = tuple(
            (binding.key, app.get_key_display(binding), binding.description, binding.action,
             enabled, tooltip, binding.group, binding.tooltip)
            for (_node, binding, enabled, tooltip) in self.screen.active_bindings.values()
            if binding.show or binding.key == app.COMMAND_PALETTE_BINDING)
        return (self.compact, self.show_command_palette, app.ENABLE_COMMAND_PALETTE, keys)

    def bindings_changed(self, screen: Screen[object]) -> None:
        if self.is_attached and screen is self.screen and self._shown is not None:
            try:
                unchanged = self.shown_keys() == self._shown
            except Exception:  # a binding being torn down: rebuild as Textual would
                unchanged = False
            if unchanged:
                return
        super().bindings_changed(screen)

    async def recompose(self) -> None:
        await super().recompose()
        self.drop_dead_watchers()
        if self._bindings_ready and self.is_attached:
            self._shown = self.shown_keys()

    def drop_dead_watchers(self) -> None:
        """Forget watchers registered on this footer by widgets that were removed since."""
        watchers: dict[str, list[tuple[object, object]]] = getattr(self, "__watchers", {})
        for entries in watchers.values():
            entries[:] = [(node, callback) for node, callback in entries
                          if not getattr(node, "_closing", False)]
