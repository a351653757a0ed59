"""Command-palette entries for the registry's VM actions, on the current screen's targets.

"Force off: web-01" runs exactly what the `F` key runs (`run_action`: dispatcher, same
confirmation, same audit). Entries carry VM names, so they are built as `Content` objects and
highlighted by offset: `Matcher.highlight` and `Hit.help` would parse a str as markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

from console.actions import registry as actions
from console.actions.dispatcher import Target
from console.actions.registry import ActionSpec
from screens.run_action import PaletteAction, describe_targets, open_screen, run_action


def plain_highlight(candidate: str, offsets: Sequence[int]) -> Content:
    """`candidate` as literal text with the matched characters underlined."""
    content = Content(candidate)
    for offset in offsets:
        if 0 <= offset < len(candidate) and not candidate[offset].isspace():
            content = content.stylize("bold underline", offset, offset + 1)
    return content


class ActionCommands(Provider):
    """The actions the current screen offers (`palette_actions()`), on its targets.

    A screen showing VMs offers every VM action on the marked VMs (or the cursor's); the
    snapshots screen offers the snapshot actions on the selected snapshot.
    """

    def _entries(self) -> list[tuple[str, ActionSpec, list[Target], dict[str, object]]]:
        offer = getattr(self.screen, "palette_actions", None)
        found: list[PaletteAction] = list(offer()) if callable(offer) else []
        entries = []
        for spec, targets, params in found:
            what = describe_targets(targets)
            if params.get("snapshot"):
                what += f" @ {params['snapshot']}"
            entries.append((f"{spec.title}: {what}", spec, targets, params))
        return entries

    async def discover(self) -> Hits:
        for text, spec, targets, params in self._entries():
            yield DiscoveryHit(Content(text), partial(self._run, spec.id, targets, params),
                               text=text, help=spec.description)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, spec, targets, params in self._entries():
            score, offsets = matcher.fuzzy_search.match(matcher.query, text)
            if score > 0:
                yield Hit(score, plain_highlight(text, offsets),
                          partial(self._run, spec.id, targets, params), text=text,
                          help=Content(spec.description))  # type: ignore[arg-type]

    def _run(self, action_id: str, targets: list[Target], params: dict[str, object]) -> None:
        app = self.app
        spec = actions.get(action_id)
        if spec.opens:
            open_screen(app, spec, targets, "palette")
            return
        app.run_worker(run_action(app, action_id, targets, params, origin="palette"),
                       group="actions", name=f"action:{action_id}")
