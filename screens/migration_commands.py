"""Palette entries for migration: "Migrate VM <name>…" and "Drain host <name>…"."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from screens.drain_dialog import open_drain_dialog
from screens.migrate_dialog import open_migrate_dialog

MAX_HITS = 30


class MigrationCommands(Provider):
    """Open the migrate dialog for a VM, or the drain dialog for a host."""

    async def discover(self) -> Hits:
        snapshot = getattr(self.app, "snapshot", None)
        if snapshot is None:
            return
        for host in snapshot.hosts:
            yield DiscoveryHit(f"Drain host {host.name}", partial(self._drain, host.name),
                               help="Live-migrate every running VM off it")

    async def search(self, query: str) -> Hits:
        snapshot = getattr(self.app, "snapshot", None)
        if snapshot is None:
            return
        matcher = self.matcher(query)
        for host in snapshot.hosts:
            title = f"Drain host {host.name}"
            if (score := matcher.match(title)) > 0:
                yield Hit(score, matcher.highlight(title), partial(self._drain, host.name),
                          help="Live-migrate every running VM off it")
        found = 0
        for vm in snapshot.vms:
            title = f"Migrate VM {vm.name}"
            if (score := matcher.match(title)) > 0:
                yield Hit(score, matcher.highlight(title), partial(self._migrate, vm.key),
                          help=f"{vm.state.value} on {vm.host}")
                found += 1
                if found >= MAX_HITS:
                    break

    def _drain(self, host: str) -> None:
        open_drain_dialog(self.app, host, origin="palette")

    def _migrate(self, key: str) -> None:
        snapshot = getattr(self.app, "snapshot", None)
        vm = next((v for v in snapshot.vms if v.key == key), None) if snapshot else None
        open_migrate_dialog(self.app, vm, origin="palette")
