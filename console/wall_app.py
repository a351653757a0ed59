"""The wall display (`novacron --wall`): the console's app, read-only, with only page keys.

Kept apart from `console.app` so the interactive app and the NOC screen can each change
without the other's bindings leaking in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.timer import Timer

from console.app import NovaApp
from console.fleet.polling import Fleet
from screens.wall import wall_modes


class WallApp(NovaApp, inherit_bindings=False):
    """`novacron --wall`: summary tiles cycling with problem VMs, hosts and migrations.

    Always read-only. `inherit_bindings=False` drops every binding of `NovaApp` (and of
    Textual's `App`): only `q` and the page keys exist, whatever actions others add.
    """

    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit", id="wall.quit"),
        *(Binding(str(n), f"wall_page({n - 1})", f"Page {n}", show=False, id=f"wall.page{n}")
          for n in range(1, 10)),
    ]
    MODES: ClassVar[dict[str, str | Callable[[], Screen[Any]]]] = {}

    def __init__(self, fleet: Fleet, *, cycle_s: float = 20.0, **kwargs: object) -> None:
        kwargs["read_only"] = True
        super().__init__(fleet, **kwargs)  # type: ignore[arg-type]
        self.cycle_s = cycle_s
        self.wall_pages = tuple(wall_modes())
        self.page = 0
        self._cycle: Timer | None = None

    async def on_mount(self) -> None:
        """Runs before `NovaApp.on_mount` (Textual calls each class's handler, subclass first)."""
        for name, factory in wall_modes().items():
            self.add_mode(name, factory)
        self.add_class("-wall")
        self.call_later(self._start_wall)

    async def _start_wall(self) -> None:
        await self._show_page(0)
        self._cycle = self.set_interval(self.cycle_s, self._next_page) if self.cycle_s > 0 else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Only quitting and turning pages run on the wall, whatever else is bound."""
        return action in ("quit", "wall_page")

    async def _next_page(self) -> None:
        await self._show_page((self.page + 1) % len(self.wall_pages))

    async def action_wall_page(self, index: int) -> None:
        if 0 <= index < len(self.wall_pages):
            await self._show_page(index)
            if self._cycle is not None:
                self._cycle.reset()

    async def _show_page(self, index: int) -> None:
        self.page = index
        await self.switch_mode(self.wall_pages[index])
