"""Command-palette entries for the registry's VM actions, on the current screen's targets.

"Force off: web-01" runs exactly what the `F` key runs (`run_action`: dispatcher, same
confirmation, same audit). Entries carry VM names, so they are built as `Content` objects and
highlighted by offset: `Matcher.highlight` and `Hit.help` would parse a str as markup.
"""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

from console import actions
from console.actions import ActionSpec, TargetKind
from console.dispatcher import Target
from screens.run_action import describe_targets, run_action


def plain_highlight(candidate: str, offsets: tuple[int, ...] | list[int]) -> Content:
    """`candidate` as literal text with the matched characters underlined."""
    content = Content(candidate)
    for offset in offsets:
        if 0 <= offset < len(candidate) and not candidate[offset].isspace():
            content = content.stylize("bold underline", offset, offset + 1)
    return content


class ActionCommands(Provider):
    """One entry per VM action for the marked VMs (or the VM under the cursor)."""

    def _targets(self) -> list[Target]:
        chooser = getattr(self.screen, "action_targets", None)
        return list(chooser()) if callable(chooser) else []

    def _entries(self) -> list[tuple[str, ActionSpec, list[Target]]]:
        targets = self._targets()
        if not targets:
            return []
        who = describe_targets(targets)
        return [(f"{spec.title}: {who}", spec, targets) for spec in actions.for_target(TargetKind.VM)]

    async def discover(self) -> Hits:
        for text, spec, targets in self._entries():
            yield DiscoveryHit(Content(text), partial(self._run, spec.id, targets), text=text,
                               help=Content(spec.description))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, spec, targets in self._entries():
            score, offsets = matcher.fuzzy_search.match(matcher.query, text)
            if score > 0:
                yield Hit(score, plain_highlight(text, offsets), partial(self._run, spec.id, targets),
                          text=text, help=Content(spec.description))  # type: ignore[arg-type]

    def _run(self, action_id: str, targets: list[Target]) -> None:
        app = self.app
        if action_id == "vm.snapshots":
            from screens.snapshots import SnapshotsScreen

            app.push_screen(SnapshotsScreen(targets[0]))
            return
        app.run_worker(run_action(app, action_id, targets, origin="palette"), group="actions",
                       name=f"action:{action_id}")
