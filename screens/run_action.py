"""Running a registered action from the TUI: refusals, confirmation, dispatch, results.

Every front end of the TUI (keys, palette, `:` commands, the snapshots dialog) ends up in
`run_action`, which only ever talks to the dispatcher. Requests the dispatcher would refuse
whatever the operator says (read-only, unsupported, busy) go straight to it, so the refusal is
audited and shown, and nobody is asked to type a name for nothing. The rest are confirmed as
the registry says, then dispatched; results come back as notifications (never markup).

`VMActions` is the mixin a screen showing VMs uses: registry bindings, `space` marks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from rich.text import Text
from textual.app import App
from textual.binding import Binding, BindingType

from backends.base import SupportsCaveats
from console.actions import registry as actions
from console.actions.dispatcher import Outcome, Request, Target
from console.actions.registry import ActionSpec, Confirm, Risk, TargetKind
from console.errors import Code
from console.models import VM
from screens.confirm import ConfirmScreen, TypedConfirmation, TypeNameScreen
from screens.console_app import console_app

FOOTER_ACTIONS = frozenset({"vm.start", "vm.shutdown", "vm.reboot", "vm.force_off", "vm.snapshots",
                            "vm.migrate"})
"""Shown in the footer (the others are in `?` help and the palette): 80 columns are few."""
NAMED_IN_DIALOG = 3
OPTION_LABELS = {"remove_storage": "Also delete its disk files (cannot be undone)"}


PaletteAction = tuple[ActionSpec, list[Target], dict[str, object]]


def vm_palette_actions(targets: list[Target]) -> list[PaletteAction]:
    """Every VM action on `targets` (what a screen showing VMs offers)."""
    return [(spec, targets, {}) for spec in actions.for_target(TargetKind.VM)] if targets else []


def open_screen(app: App[Any], spec: ActionSpec, targets: Sequence[Target], origin: str) -> None:
    """An action whose spec `opens` a screen (the snapshot list, the migrate dialog): the app
    knows which screen a name means."""
    if not targets and spec.needs_target:
        notify(app, "Select a VM first.", severity="warning")
        return
    console_app(app).open_action_screen(spec, targets[0] if targets else Target("", "", ""),
                                        origin)


def target_of(vm: VM) -> Target:
    return Target(backend=vm.backend, vm_id=vm.id, name=vm.name)


def describe_targets(targets: Sequence[Target]) -> str:
    """'web-01' or '5 VMs: web-01, web-02, web-03 and 2 more'."""
    if len(targets) == 1:
        return targets[0].name
    names = ", ".join(t.name for t in targets[:NAMED_IN_DIALOG])
    more = len(targets) - NAMED_IN_DIALOG
    return f"{len(targets)} VMs: {names}" + (f" and {more} more" if more > 0 else "")


def notify(app: App[Any], message: str, *, severity: str = "information",
           title: str = "", timeout: float | None = None) -> None:
    """Every action notification: names inside, so markup is always off."""
    app.notify(message, title=title, severity=severity, markup=False,  # type: ignore[arg-type]
               timeout=timeout)


async def run_action(app: App[Any], action_id: str, targets: Sequence[Target],
                     params: Mapping[str, object] | None = None,
                     origin: str = "tui") -> list[Outcome]:
    """Confirm and run `action_id` on `targets`; must run in a worker (dialogs wait)."""
    spec = actions.get(action_id)
    dispatcher = console_app(app).dispatcher
    if dispatcher is None:
        notify(app, "Actions are not ready yet (the audit store is opening).", severity="warning")
        return []
    if not targets:
        notify(app, "Select a VM first (or mark some with space).", severity="warning")
        return []
    try:
        prepared = actions.prepare_params(spec, params)
    except ValueError as exc:
        notify(app, str(exc), severity="error", title=spec.title)
        return []
    outcomes: list[Outcome] = []
    pending: list[Request] = []
    for request in (Request(spec.id, t, prepared, origin=origin) for t in targets):
        why = dispatcher.precheck(request, confirmation=False) or await dispatcher.held_elsewhere(request)
        if why is None:
            pending.append(request)
        else:  # refused whatever the operator would answer: say so now, audited
            outcomes.append(await dispatcher.refuse(request, why))
    if pending:
        confirmed = await confirm(app, spec, pending)
        if confirmed is None:
            notify(app, f"{spec.title} cancelled: nothing was done.", title=spec.title)
        else:
            if len(confirmed) > 1 or spec.announce:
                notify(app, f"{spec.title}: {describe_targets([r.target for r in confirmed])}…",
                       title=spec.title)
            outcomes += await dispatcher.run_all(confirmed)
    report(app, spec, outcomes)
    timed_out = [o.request.target for o in outcomes if spec.on_timeout
                 and o.error is not None and o.error.kind is Code.TIMEOUT]
    for target in timed_out:
        outcomes.append(await offer_next(app, actions.get(spec.on_timeout), target, origin))
    return outcomes


def refuse_up_front(app: App[Any], requests: Sequence[Request]) -> bool:
    """True when the dispatcher would refuse every request whatever the operator answers.

    Then no dialog should open (nobody plans a migration the console will not run): the
    refusals go through the dispatcher in a worker, so they are audited and shown.
    """
    dispatcher = console_app(app).dispatcher
    refusals = dispatcher.certain_refusals(requests) if dispatcher is not None else None
    if refusals is None:
        return False

    async def refuse() -> None:
        assert dispatcher is not None
        outcomes = [await dispatcher.refuse(r, why) for r, why in zip(requests, refusals, strict=True)]
        report(app, requests[0].spec, outcomes)

    app.run_worker(refuse(), group="refusals")
    return True


async def confirm(app: App[Any], spec: ActionSpec,
                  requests: list[Request]) -> list[Request] | None:
    """Ask as the registry says; the confirmed requests, or None if the operator backed out."""
    if spec.confirm is Confirm.NONE:
        return requests
    targets = [r.target for r in requests]
    body = confirmation_text(spec, requests, caveats(app, spec, requests))
    if spec.confirm is Confirm.YES_NO:
        yes = await app.push_screen_wait(ConfirmScreen(f"{spec.title}?", body, spec.title))
        return [dataclasses.replace(r, confirmed=True) for r in requests] if yes else None
    options = {p.name: OPTION_LABELS.get(p.name, p.help) for p in spec.params if p.kind is bool}
    expected = targets[0].name if len(targets) == 1 else str(len(targets))
    answer: TypedConfirmation | None = await app.push_screen_wait(
        TypeNameScreen(f"{spec.title}?", body, expected, options))
    if answer is None:
        return None
    # For one VM the operator typed its name; for several, their count: either way the
    # dialog checked it, and each request carries its VM's name for the dispatcher's check.
    return [dataclasses.replace(r, typed_name=r.target.name, params={**r.params, **answer.options})
            for r in requests]


def caveats(app: App[Any], spec: ActionSpec, requests: list[Request]) -> list[str]:
    """What each target's backend wants said before this action (`SupportsCaveats`)."""
    dispatcher = console_app(app).dispatcher
    found: list[str] = []
    for name in dict.fromkeys(r.target.backend for r in requests):
        backend = dispatcher.backend(name) if dispatcher is not None else None
        note = backend.caveat(spec.id) if isinstance(backend, SupportsCaveats) else ""
        if note and note not in found:
            found.append(note)
    return found


def confirmation_text(spec: ActionSpec, requests: list[Request],
                      notes: Sequence[str] = ()) -> Text:
    text = Text(f"{spec.title}: ")
    text.append(describe_targets([r.target for r in requests]), style="bold")
    snapshot = requests[0].params.get("snapshot")
    if snapshot:
        text.append("\nSnapshot: ")
        text.append(str(snapshot), style="bold")
    text.append(f"\n\n{spec.description}")
    for note in notes:
        text.append(f"\n{note}", style="bold")
    if spec.risk is Risk.DESTRUCTIVE:
        text.append("\nThis cannot be undone.", style="bold")
    return text


async def offer_next(app: App[Any], spec: ActionSpec, target: Target, origin: str) -> Outcome:
    """An action timed out (a shutdown the guest ignored): offer the spec's next step
    (force-off), which still needs the name typed."""
    body = Text(f"{target.name} did not finish in time. {spec.title}?\n\n{spec.description}")
    answer = await app.push_screen_wait(TypeNameScreen(f"{spec.title}?", body, target.name))
    request = Request(spec.id, target, {}, typed_name=answer.typed if answer else None,
                      origin=origin)
    if answer is None:
        notify(app, f"{target.name} was left running.", title=spec.title)
        return Outcome(request, "refused")
    dispatcher = console_app(app).dispatcher
    if dispatcher is None:
        return Outcome(request, "refused")
    outcome = await dispatcher.run(request)
    report(app, spec, [outcome])
    return outcome


def report(app: App[Any], spec: ActionSpec, outcomes: Sequence[Outcome]) -> None:
    """One notification per failure or refusal; successes summed up (per VM when few)."""
    ok = [o for o in outcomes if o.ok]
    for outcome in outcomes:
        if outcome.ok or outcome.error is None:
            continue
        severity = "warning" if outcome.status == "refused" else "error"
        notify(app, f"{outcome.request.target.name}: {outcome.error}", severity=severity,
               title=f"{spec.title} {outcome.status}", timeout=10)
    if len(ok) == 1:
        extra = _extra(ok[0])
        notify(app, f"{ok[0].request.target.name}: done ({ok[0].duration_s:.1f} s){extra}",
               title=spec.title)
    elif ok:
        notify(app, f"{describe_targets([o.request.target for o in ok])}: done", title=spec.title)


def _extra(outcome: Outcome) -> str:
    spec = outcome.request.spec
    note = spec.result_note(outcome.value, outcome.request.params) if spec.result_note else ""
    return f"; {note}" if note else ""


def vm_action_bindings() -> list[BindingType]:
    """`space` marks, and one key per VM action of the registry (remappable by its id)."""
    return [Binding("space", "toggle_mark", "Mark", show=False, id="inventory.mark"),
            *(Binding(spec.key, f"vm_action('{spec.id}')", spec.short or spec.title,
                      show=spec.id in FOOTER_ACTIONS, id=spec.id)
              for spec in actions.for_target(TargetKind.VM))]


class VMActions:
    """Mixin for screens that show VMs: the registry's VM actions as keys, `space` marks.

    A screen using it adds `*vm_action_bindings()` to its `BINDINGS`. In a read-only console
    the keys of mutating actions are disabled and hidden (`check_action`); the palette, `:`
    and the CLI still reach the dispatcher, which refuses them and audits the refusal: hiding
    is not the guard.
    """

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "vm_action" and parameters:
            spec = actions.get(str(parameters[0]))
            return not (spec.mutating and console_app(self.app).read_only)  # type: ignore[attr-defined]
        return True

    def action_targets(self) -> list[Target]:
        """Marked VMs, else the one under the cursor (screens override)."""
        return []

    def palette_actions(self) -> list[PaletteAction]:
        """What the command palette offers here: every VM action on the targets."""
        return vm_palette_actions(self.action_targets())

    def after_bulk(self) -> None:
        """Called once a bulk action was dispatched (the inventory clears its marks)."""

    def action_toggle_mark(self) -> None:
        """Mark or unmark the current row (screens with a table override)."""

    def action_vm_action(self, action_id: str) -> None:
        targets = self.action_targets()
        app = self.app  # type: ignore[attr-defined]
        spec = actions.get(action_id)
        if spec.opens:
            open_screen(app, spec, targets, "tui")
            return
        if len(targets) > 1:
            self.after_bulk()
        app.run_worker(run_action(app, action_id, targets), group="actions",
                       name=f"action:{action_id}")
