"""The footer: the screen's keys on one line, drawn by one widget.

Why not Textual's `Footer`: it is a container of one `FooterKey` widget per key. It mounts them
all again whenever the bindings may have changed (every focus move: `/` into the filter box,
escape out of it), and every layout pass measures each key again (their width is auto, and
typing in the filter box lays the screen out at every character). At 100k VMs that was most
of the frame of `/`, escape and each typed character (some 20 widgets mounted, styled and
measured each time; issue 17). One widget drawing one line costs a fraction of that, and
redraws only when the keys it shows change. Textual's footer also leaked: each key registered
a watcher on the footer that Textual never dropped (Textualize/textual#6666).

It looks the same: each key in the footer-key colours with a space either side, then its
description, disabled keys dim. Clicking a key presses it. Not kept: the hover highlight and
tooltips, and the command palette's key (the theme hid it: ctrl+p still opens the palette).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, NamedTuple

from rich.style import Style
from rich.text import Text
from textual import events
from textual.widget import Widget

if TYPE_CHECKING:
    from textual.screen import Screen

DIM = Style(dim=True)


class FooterKey(NamedTuple):
    """One key as the footer shows it."""

    key: str
    """What pressing it sends (`Binding.key`)."""
    display: str
    """How it is written (`App.get_key_display`)."""
    description: str
    enabled: bool


class Footer(Widget, can_focus=False):
    """The keys the focused widget, its screen and the app offer, from `Screen.active_bindings`
    (a key bound to several actions is shown once, as Textual's footer does)."""

    ALLOW_SELECT = False
    COMPONENT_CLASSES: ClassVar[set[str]] = {"footer--key", "footer--description"}
    DEFAULT_CSS = """
    Footer {
        dock: bottom;
        height: 1;
        text-wrap: nowrap;
        text-overflow: clip;
        color: $footer-foreground;
        background: $footer-background;
    }
    Footer > .footer--key {
        color: $footer-key-foreground;
        background: $footer-key-background;
        text-style: bold;
    }
    Footer > .footer--description {
        color: $footer-description-foreground;
        background: $footer-description-background;
    }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.keys: tuple[FooterKey, ...] = ()
        """What the footer shows now, left to right."""
        self._spans: list[tuple[int, int, FooterKey]] = []

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)
        self.bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def bindings_changed(self, screen: Screen[object]) -> None:
        """The screen's bindings may have changed (focus moved, a check changed): redraw if
        the keys shown did."""
        if not self.is_attached or screen is not self.screen:
            return
        keys = self.shown_keys()
        if keys != self.keys:
            self.keys = keys
            self.refresh()

    def shown_keys(self) -> tuple[FooterKey, ...]:
        app = self.app
        shown: dict[str, FooterKey] = {}
        for _node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if binding.show and binding.action not in shown:
                shown[binding.action] = FooterKey(binding.key, app.get_key_display(binding),
                                                  binding.description, enabled)
        return tuple(shown.values())

    def render(self) -> Text:
        key_style = self.get_component_rich_style("footer--key")
        description_style = self.get_component_rich_style("footer--description")
        line = Text(no_wrap=True, overflow="crop", end="")
        self._spans = []
        for key in self.keys:
            start = line.cell_len
            dim = DIM if not key.enabled else Style()
            if key.description:
                line.append(f" {key.display} ", key_style + dim)
                line.append(f"{key.description} ", description_style + dim)
            else:
                line.append(key.display, key_style + dim)
            self._spans.append((start, line.cell_len, key))
        return line

    def on_click(self, event: events.Click) -> None:
        for start, end, key in self._spans:
            if start <= event.x < end:
                if key.enabled:
                    self.app.simulate_key(key.key)
                else:
                    self.app.bell()
                return
