"""Textual themes: data, registered by the app. Status colours are theme variables.

Every status colour used anywhere is one of the `status-*` variables below, so a theme (or a
production context's accent) changes them in one place and no `.tcss` holds a hex colour.
`novacron-ansi` uses only the 16 ANSI colours (rendered as SGR 30-37 and 90-97, never truecolor),
so it looks the same on the Linux console, in `screen` and over a 16-colour serial line.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.theme import Theme

CSS_PATH = Path(__file__).with_name("novacron.tcss")
"""Cross-cutting rules (production frame, NO_COLOR, wall mode); variables only, no hex."""

STATUS_VARIABLES = ("status-running", "status-stopped", "status-paused", "status-migrating",
                    "status-error", "status-stale")

DEFAULT_STATUS = {
    "status-running": "#4EBF71",
    "status-stopped": "#8A8F98",
    "status-paused": "#E0B341",
    "status-migrating": "#4FA3E0",
    "status-error": "#E5534B",
    "status-stale": "#8A8F98",
    "production-accent": "#E5534B",
    "header-background": "#232A35",
    "header-foreground": "#D8DEE9",
    "table-cursor": "#2E3744",
    "table-cursor-focus": "#5E5530",
}
"""Fallbacks for every variable we use (Textual's own themes lack them)."""

DARK = Theme(
    name="novacron-dark",
    primary="#4FA3E0",
    secondary="#7C8CF8",
    accent="#E0B341",
    foreground="#D8DEE9",
    background="#11151C",
    surface="#171C24",
    panel="#232A35",
    success="#4EBF71",
    warning="#E0B341",
    error="#E5534B",
    dark=True,
    variables=dict(DEFAULT_STATUS),
)

LIGHT = Theme(
    name="novacron-light",
    primary="#1F6FB2",
    secondary="#5563C1",
    accent="#A8740C",
    foreground="#1E2329",
    background="#F5F6F8",
    surface="#FFFFFF",
    panel="#E3E7ED",
    success="#1E8A45",
    warning="#A8740C",
    error="#C4302B",
    dark=False,
    variables={
        "status-running": "#1E8A45",
        "status-stopped": "#5C636E",
        "status-paused": "#8F6208",
        "status-migrating": "#1F6FB2",
        "status-error": "#C4302B",
        "status-stale": "#6B717B",
        "production-accent": "#C4302B",
        "header-background": "#D5DBE3",
        "header-foreground": "#1E2329",
        "table-cursor": "#E3E7ED",
        "table-cursor-focus": "#F2DFB4",
    },
)

HIGH_CONTRAST = Theme(
    name="novacron-high-contrast",
    primary="#FFFFFF",
    secondary="#00FFFF",
    accent="#FFFF00",
    foreground="#FFFFFF",
    background="#000000",
    surface="#000000",
    panel="#303030",
    success="#00FF00",
    warning="#FFFF00",
    error="#FF4040",
    dark=True,
    variables={
        "status-running": "#00FF00",
        "status-stopped": "#D0D0D0",
        "status-paused": "#FFFF00",
        "status-migrating": "#00FFFF",
        "status-error": "#FF4040",
        "status-stale": "#B0B0B0",
        "production-accent": "#FF2020",
        "header-background": "#FFFFFF",
        "header-foreground": "#000000",
        "table-cursor": "#404040",
        "table-cursor-focus": "#0000C0",
        "foreground-muted": "#D0D0D0",
    },
)

ANSI16 = Theme(
    name="novacron-ansi",
    ansi=True,
    primary="ansi_blue",
    secondary="ansi_cyan",
    accent="ansi_yellow",
    foreground="ansi_default",
    background="ansi_default",
    surface="ansi_default",
    panel="ansi_blue",
    success="ansi_green",
    warning="ansi_yellow",
    error="ansi_red",
    dark=True,
    variables={
        "status-running": "ansi_green",
        "status-stopped": "ansi_white",
        "status-paused": "ansi_yellow",
        "status-migrating": "ansi_cyan",
        "status-error": "ansi_bright_red",
        "status-stale": "ansi_bright_black",
        "production-accent": "ansi_red",
        "header-background": "ansi_blue",
        "header-foreground": "ansi_bright_white",
        "table-cursor": "ansi_white",
        "table-cursor-focus": "ansi_cyan",
        # Textual's ANSI defaults blend `ansi_default 50%` (a truecolor grey): use real ANSI.
        "ansi-background": "ansi_black",
        "ansi-foreground": "ansi_white",
        "panel": "ansi_blue",
        "surface": "ansi_default",
        "boost": "ansi_default",
        "text": "ansi_default",
        "text-muted": "ansi_bright_black",
        "text-disabled": "ansi_bright_black",
        "foreground-muted": "ansi_bright_black",
        "background-muted": "ansi_default",
        "primary-muted": "ansi_blue",
        "secondary-muted": "ansi_cyan",
        "warning-muted": "ansi_yellow",
        "error-muted": "ansi_red",
        "success-muted": "ansi_green",
        "accent-muted": "ansi_yellow",
        "border": "ansi_blue",
        "border-blurred": "ansi_white",
        "footer-key-foreground": "ansi_yellow",
        "footer-background": "ansi_default",
        "block-cursor-background": "ansi_cyan",
        "block-cursor-foreground": "ansi_black",
        "scrollbar": "ansi_blue",
        "scrollbar-background": "ansi_default",
        "scrollbar-background-hover": "ansi_default",
        "scrollbar-background-active": "ansi_default",
        "input-selection-background": "ansi_cyan",
        "input-selection-foreground": "ansi_black",
    },
)

THEMES = (DARK, LIGHT, HIGH_CONTRAST, ANSI16)
THEME_NAMES = tuple(theme.name for theme in THEMES)
DEFAULT_THEME = DARK.name


def resolve_theme(name: str | None) -> str:
    """The theme to use for `name` (None or unknown: the default)."""
    return name if name in THEME_NAMES else DEFAULT_THEME


class ThemeCommands(Provider):
    """The palette's theme switcher: only NovaCron's themes, each with what it is for."""

    HELP = {
        "novacron-dark": "default, truecolor",
        "novacron-light": "light background",
        "novacron-high-contrast": "maximum contrast",
        "novacron-ansi": "16 ANSI colours: Linux console, screen, serial",
    }

    def _commands(self) -> list[tuple[str, Callable[[], None], str]]:
        def use(name: str) -> None:
            self.app.theme = name

        return [(f"Theme: {theme.name}", partial(use, theme.name), self.HELP.get(theme.name, ""))
                for theme in THEMES]

    async def discover(self) -> Hits:
        for title, callback, help_text in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, callback, help_text in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
