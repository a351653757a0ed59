"""Command-palette entries: the screens, and every VM by name (jump to it)."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

from screens.action_palette import plain_highlight
from screens.inventory import InventoryScreen
from screens.vm_detail import VMDetailScreen

MAX_VM_HITS = 50


class FleetCommands(Provider):
    """Screens and VMs. VM entries move the inventory cursor to the VM and open its detail."""

    def _screens(self) -> list[tuple[str, str]]:
        modes = getattr(self.app, "MODES", {})
        return [(f"Go to {name}", name) for name in modes]

    async def discover(self) -> Hits:
        for title, mode in self._screens():
            yield DiscoveryHit(title, partial(self.app.switch_mode, mode), help="Screen")

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, mode in self._screens():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self.app.switch_mode, mode),
                          help="Screen")
        snapshot = getattr(self.app, "snapshot", None)
        if snapshot is None or not query.strip():
            return
        needle = query.strip().lower()
        found = 0
        for vm in snapshot.vms:
            if needle not in vm.name.lower():
                continue
            title = f"VM {vm.name}"
            # Names are untrusted: `matcher.highlight` and a str `help` would parse markup.
            score, offsets = matcher.fuzzy_search.match(matcher.query, title)
            yield Hit(score or 0.1, plain_highlight(title, offsets), partial(self._open_vm, vm.key),
                      text=title, help=Content(f"{vm.state.value} on {vm.host}"))  # type: ignore[arg-type]
            found += 1
            if found >= MAX_VM_HITS:
                break

    async def _open_vm(self, key: str) -> None:
        await self.app.switch_mode("inventory")
        screen = self.app.screen
        if isinstance(screen, InventoryScreen):
            screen.table.move_to(key)
        await self.app.push_screen(VMDetailScreen(key))
