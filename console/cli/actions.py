"""`novacron vm <action> NAME…` and `novacron audit`: the registry and dispatcher on the CLI.

Subcommands, their options and their confirmation flags are generated from the action
registry: `--yes` exists only on actions that ask yes/no, `--confirm NAME` only on the
destructive ones (type-the-name), so `--yes` can never wave a force-off or a delete through.
The requests go through the same dispatcher as the TUI: same read-only gate, same per-VM lock,
same audit log. The lock holds across processes: a VM a TUI (or another `novacron vm`) is acting
on through the same store is refused with NOVA-3003, exit code 3. Output is plain text (names
are sanitized at ingestion and printed through `ascii_safe`) or JSON with `--json`
(ASCII-escaped).

Exit statuses: `console.cli.exit`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import asdict
from typing import Any

from console.actions import registry as actions
from console.actions.dispatcher import Dispatcher, Outcome, Request, Target
from console.actions.registry import ActionSpec, Confirm
from console.cli.common import ascii_safe, fleet_of, open_context
from console.cli.exit import ExitStatus, exit_for, exit_for_all
from console.errors import Code, NovaError
from console.fleet.resolve import resolve_vms
from console.store import Store


def add_parsers(sub: Any, vm_sub: Any) -> None:
    """Add one `vm` subcommand per registered action, and the `audit` command."""
    for spec in (s for s in actions.ACTIONS if s.cli):
        p = vm_sub.add_parser(spec.verb, aliases=list(spec.aliases),
                              help=f"{spec.description} [{spec.risk.value}]")
        p.add_argument("names", nargs="+" if spec.mutating else 1, metavar="NAME",
                       help="VM name (backend/name when two hosts have the same name)")
        for param in spec.params:
            flag = "--" + param.name.replace("_", "-")
            if param.kind is bool:
                p.add_argument(flag, action="store_true", dest=param.name, help=param.help)
            else:
                p.add_argument(flag, type=param.kind, dest=param.name, required=param.required,
                               help=param.help + (f" (default {param.default})"
                                                  if param.default not in (None, "") else ""))
        if spec.confirm is Confirm.YES_NO:
            p.add_argument("--yes", "-y", action="store_true", help="confirm (required)")
        if spec.confirm is Confirm.TYPE_NAME:
            p.add_argument("--confirm", action="append", default=[], metavar="NAME",
                           help="repeat each VM's exact name to confirm (required; --yes is "
                           "not accepted for destructive actions)")
        p.add_argument("--json", action="store_true", help="JSON output")
        p.set_defaults(func=cmd_vm_action, action_id=spec.id)

    audit = sub.add_parser("audit", help="show the audit log (newest first)")
    audit.add_argument("--json", action="store_true", help="JSON output")
    audit.add_argument("--limit", type=int, default=50, help="rows to show (default 50)")
    audit.add_argument("--filter", default="", help="words; action:…, status:…, target:…, who:…")
    audit.set_defaults(func=cmd_audit)


def cmd_vm_action(args: argparse.Namespace) -> int:
    spec = actions.get(args.action_id)
    given = {p.name: getattr(args, p.name, None) for p in spec.params}
    try:
        params = actions.prepare_params(spec, given)
    except ValueError as exc:
        print(f"novacron: {exc}", file=sys.stderr)
        return ExitStatus.USAGE
    name, context, read_only = open_context(args)
    return asyncio.run(_vm_action(args, spec, params, name, context, read_only))


async def _vm_action(args: argparse.Namespace, spec: ActionSpec, params: dict[str, object],
                     context_name: str, context: Any, read_only: bool) -> int:
    # Read-only contexts open their libvirt connections read-only: a second, independent guard.
    fleet = fleet_of(context_name, context, read_only=read_only)
    try:
        snapshot = await fleet.poll_once()
        try:
            targets = [Target(vm.backend, vm.id, vm.name) for vm in resolve_vms(snapshot.vms, args.names)]
        except NovaError as err:
            print(f"novacron: {err}", file=sys.stderr)
            return exit_for(err)
        if spec.mutating and not read_only and any(u.startswith("test:") for u in _uris(context)):
            print("novacron: note: this context uses the libvirt test driver (the demo fleet): "
                  "its state lives in this process, so changes last for this command only",
                  file=sys.stderr)
        store = await Store.open(context.store)
        try:
            dispatcher = Dispatcher(fleet.backends, audit=store, context=context_name,
                                    read_only=read_only)
            confirm_names = set(getattr(args, "confirm", []) or [])
            requests = [Request(spec.id, t, params, confirmed=bool(getattr(args, "yes", False)),
                                typed_name=_typed(t, confirm_names), origin="cli")
                        for t in targets]
            outcomes = await dispatcher.run_all(requests)
        finally:
            await store.close()
    finally:
        await fleet.stop()
    print_outcomes(spec, outcomes, as_json=args.json)
    return exit_for_all(o.error for o in outcomes)


def _uris(context: Any) -> list[str]:
    return [getattr(source, "uri", "") for source in context.backends]


def _typed(target: Target, confirm_names: set[str]) -> str | None:
    if target.name in confirm_names:
        return target.name
    return next(iter(confirm_names)) if len(confirm_names) == 1 else None


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    request, error = outcome.request, outcome.error
    value = outcome.value
    if isinstance(value, list):
        value = [asdict(v) if hasattr(v, "__dataclass_fields__") else v for v in value]
    return {
        "action": request.action, "target": request.target.name, "backend": request.target.backend,
        "vm_id": request.target.vm_id, "params": dict(request.params), "status": outcome.status,
        "duration_s": round(outcome.duration_s, 3), "audit_id": outcome.audit_id,
        "idempotency_key": request.idempotency_key,
        "error": None if error is None else {"code": error.code, "message": error.kind.message,
                                             "detail": error.detail, "cause": error.cause},
        "result": value,
    }


def print_outcomes(spec: ActionSpec, outcomes: list[Outcome], *, as_json: bool) -> None:
    if as_json:
        json.dump([outcome_json(o) for o in outcomes], sys.stdout, indent=2, ensure_ascii=True)
        print()
        return
    for outcome in outcomes:
        name = ascii_safe(outcome.request.target.name)
        if not outcome.ok:
            print(f"{outcome.status:8} {name}: {ascii_safe(str(outcome.error))}", file=sys.stderr)
            if outcome.error is not None and outcome.error.kind is Code.TIMEOUT and spec.on_timeout:
                then = actions.get(spec.on_timeout)
                confirm = f" --confirm {name}" if then.confirm is Confirm.TYPE_NAME else ""
                print(f"         next: novacron vm {then.verb} {name}{confirm}", file=sys.stderr)
            continue
        if not spec.mutating:  # a listing (the snapshots)
            if not outcome.value:
                print(f"{name}: no snapshots")
            for snap in outcome.value or []:
                when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(snap.created_at))
                print(f"{ascii_safe(snap.name):32} {when}  {snap.state:10} "
                      f"{'current' if snap.current else '':8} {ascii_safe(snap.description)}")
            continue
        note = spec.result_note(outcome.value, outcome.request.params) if spec.result_note else ""
        extra = f"  {ascii_safe(note)}" if note else ""
        print(f"ok       {name}: {spec.title.lower()} ({outcome.duration_s:.1f} s){extra}")


def cmd_audit(args: argparse.Namespace) -> int:
    return asyncio.run(_audit(args))


async def _audit(args: argparse.Namespace) -> int:
    store = await Store.open(open_context(args)[1].store)
    try:
        entries = await store.audit(limit=args.limit, filter_text=args.filter)
    finally:
        await store.close()
    if args.json:
        rows = [{**asdict(e), "status": getattr(e.status, "value", e.status)} for e in entries]
        json.dump(rows, sys.stdout, indent=2, ensure_ascii=True)
        print()
        return ExitStatus.OK
    for e in entries:
        status = getattr(e.status, "value", str(e.status))
        took = "-" if e.duration_s is None else f"{e.duration_s:.1f}s"
        error = " ".join(p for p in (e.error_code, e.error_message, e.error_cause) if p)
        print(ascii_safe(f"{e.started_iso}  {e.who:10} {e.action:20} {e.target_name:24} "
                         f"{status:8} {took:>7}  {e.context}  {error}"))
    return ExitStatus.OK
