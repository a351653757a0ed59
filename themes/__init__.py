"""Textual themes: data, registered by the app. Status colours are theme variables.

Every status colour used anywhere is one of the `status-*` variables below, so a theme (or a
production context's accent) changes them in one place and no `.tcss` holds a hex colour.
"""

from __future__ import annotations

from textual.theme import Theme

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
}

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
        **DEFAULT_STATUS,
        "status-running": "#1E8A45",
        "status-stopped": "#5C636E",
        "status-paused": "#A8740C",
        "status-migrating": "#1F6FB2",
        "status-error": "#C4302B",
        "status-stale": "#5C636E",
        "production-accent": "#C4302B",
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
    panel="#333333",
    success="#00FF00",
    warning="#FFFF00",
    error="#FF3030",
    dark=True,
    variables={
        "status-running": "#00FF00",
        "status-stopped": "#C0C0C0",
        "status-paused": "#FFFF00",
        "status-migrating": "#00FFFF",
        "status-error": "#FF3030",
        "status-stale": "#C0C0C0",
        "production-accent": "#FF3030",
    },
)

ANSI16 = Theme(
    name="novacron-ansi",
    primary="ansi_bright_blue",
    secondary="ansi_cyan",
    accent="ansi_yellow",
    foreground="ansi_default",
    background="ansi_default",
    surface="ansi_default",
    panel="ansi_black",
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
        "foreground-muted": "ansi_bright_black",
    },
)

THEMES = (DARK, LIGHT, HIGH_CONTRAST, ANSI16)
DEFAULT_THEME = DARK.name
