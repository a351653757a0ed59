"""`novacron vm migrate`, `novacron host drain`, `novacron migration list|recover`.

Same pre-flight checks, tracker, dispatcher (audit row, per-VM lock) and history as the TUI.
Exit statuses: `console.cli.exit` (a cancelled migration or a failed pre-flight is refused).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from backends.base import MigrationOptions
from console.actions.dispatcher import Dispatcher, Request, Target
from console.actions.registry import MIGRATE
from console.cli.common import fleet_of, open_context
from console.cli.exit import ExitStatus, exit_for
from console.errors import Code, NovaError
from console.fleet.resolve import resolve_vm
from console.migration.dispatch import dispatcher_door
from console.migration.drain import drain
from console.migration.history import History
from console.migration.plan import plan_drain, preflight
from console.migration.state import MigrationState, summary_line
from console.migration.tracker import MigrationTracker
from console.models import VM, FleetSnapshot, MigrationPhase
from console.provision.placement import DEFAULT_RULES, Rules
from console.store import Store


def _options_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bandwidth", type=int, metavar="MiB/s", help="bandwidth cap")
    p.add_argument("--max-downtime", type=int, metavar="MS", help="largest acceptable pause")
    p.add_argument("--auto-converge", action="store_true", help="throttle vCPUs until it converges")
    p.add_argument("--post-copy", action="store_true", help="allow switching to post-copy")
    p.add_argument("--post-copy-after", type=float, metavar="S",
                   help="switch to post-copy after S seconds (implies --post-copy)")
    p.add_argument("--copy-storage", choices=("none", "all", "inc"), default="none",
                   help="copy disks too (non-shared storage)")
    p.add_argument("--no-persist", action="store_true", help="do not define the guest on the target")
    p.add_argument("--keep-source", action="store_true", help="keep the definition on the source")
    p.add_argument("--migrate-uri", help="data connection on the target (default tcp://TARGET)")
    p.add_argument("--json", action="store_true", help="JSON output")


def add_parsers(sub: argparse._SubParsersAction, vm_sub: argparse._SubParsersAction) -> None:
    """Register the migration commands on the main CLI."""
    migrate = vm_sub.add_parser("migrate", help="live-migrate a running VM to another host")
    migrate.add_argument("name", help="VM name (or UUID)")
    migrate.add_argument("--to", required=True, metavar="HOST", help="target host")
    migrate.add_argument("--no-wait", action="store_true", help="return once it has started")
    _options_args(migrate)
    migrate.set_defaults(func=cmd_migrate)

    host = sub.add_parser("host", help="host actions")
    host_sub = host.add_subparsers(dest="host_command", metavar="ACTION", required=True)
    drain = host_sub.add_parser("drain", help="live-migrate every running VM off a host")
    drain.add_argument("host", help="host to empty")
    drain.add_argument("--concurrency", type=int, default=2, help="migrations at a time (2)")
    drain.add_argument("--yes", action="store_true", help="confirm (required to start)")
    drain.add_argument("--dry-run", action="store_true", help="print the plan only")
    _options_args(drain)
    drain.set_defaults(func=cmd_drain)

    history = sub.add_parser("migration", help="migration history")
    history_sub = history.add_subparsers(dest="migration_command", metavar="ACTION", required=True)
    listing = history_sub.add_parser("list", help="recent migrations from the history")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_list)
    recover = history_sub.add_parser(
        "recover", help="re-read unfinished migrations from the hosts and record their outcome")
    recover.add_argument("--json", action="store_true")
    recover.add_argument("--follow", action="store_true",
                         help="wait for still-running migrations to end")
    recover.set_defaults(func=cmd_recover)


def options_from(args: argparse.Namespace) -> MigrationOptions:
    return MigrationOptions(
        bandwidth_mib_s=args.bandwidth, max_downtime_ms=args.max_downtime,
        auto_converge=args.auto_converge,
        post_copy=args.post_copy or args.post_copy_after is not None,
        copy_storage=args.copy_storage, persistent=not args.no_persist,
        undefine_source=not args.keep_source, migrate_uri=args.migrate_uri)


@dataclass
class Session:
    snapshot: FleetSnapshot
    tracker: MigrationTracker
    dispatcher: Any
    rules: Rules = DEFAULT_RULES
    """The context's placement rules (overcommit limits, spread_by) for pre-flight and drain."""

    async def refusal(self, vms: list[VM]) -> NovaError | None:
        """The dispatcher's refusal when it would refuse moving every one of `vms` whatever
        the operator adds (read-only, a busy VM): audited now, before any host is asked."""
        requests = [Request(MIGRATE, Target(vm.backend, vm.id, vm.name), {}, origin="cli")
                    for vm in vms]
        refusals = self.dispatcher.certain_refusals(requests)
        if refusals is None:
            return None
        for request, why in zip(requests, refusals, strict=True):
            await self.dispatcher.refuse(request, why)
        return refusals[0]


@contextlib.asynccontextmanager
async def session(args: argparse.Namespace) -> AsyncIterator[Session]:
    """Poll the context once, open the store and dispatcher, build a tracker; close it all."""
    name, context, read_only = open_context(args)
    fleet = fleet_of(name, context, read_only=read_only)
    store = await Store.open(context.store)
    try:
        snapshot = await fleet.poll_once()
        dispatcher = Dispatcher(fleet.backends, audit=store,  # type: ignore[arg-type]
                                context=name, read_only=read_only)
        tracker = MigrationTracker(fleet.backends, context=name,
                                   history=History(store, lambda: fleet.backends),
                                   door=dispatcher_door(dispatcher, origin="cli"))
        try:
            yield Session(snapshot, tracker, dispatcher, Rules.of(context))
        finally:
            await tracker.close()
    finally:
        await fleet.stop()
        await store.close()


def find_vm(snapshot: FleetSnapshot, name: str) -> VM:
    return resolve_vm(snapshot.vms, name)


def state_json(state: MigrationState) -> dict[str, Any]:
    data = dataclasses.asdict(state)
    data["phase"] = state.phase.value
    data["duration_s"] = state.duration_s
    if state.progress is not None:
        data["progress"]["phase"] = state.progress.phase.value
    return data


def _printer(json_out: bool):  # type: ignore[no-untyped-def]
    last: dict[str, float] = {}

    def show(state: MigrationState) -> None:
        now = time.monotonic()
        if json_out or (state.active and now - last.get(state.id, 0) < 1.0):
            return
        last[state.id] = now
        print(summary_line(state), flush=True)

    return show


def cmd_migrate(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_migrate(args))
    except NovaError as err:
        print(f"novacron: {err}", file=sys.stderr)
        return exit_for(err)


async def _migrate(args: argparse.Namespace) -> int:
    async with session(args) as s:
        vm = find_vm(s.snapshot, args.name)
        if (refused := await s.refusal([vm])) is not None:
            raise refused
        choice = preflight(vm, args.to, s.snapshot, s.tracker.busy(), limits=s.rules.limits)
        if choice is None:
            raise NovaError(Code.VM_NOT_FOUND, f"host {args.to!r}",
                            "known: " + ", ".join(h.name for h in s.snapshot.hosts))
        if not choice.ok:
            print(f"novacron: refused to migrate {vm.name} to {args.to}:", file=sys.stderr)
            for check in choice.checks:
                print(f"  {'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}",
                      file=sys.stderr)
            return ExitStatus.REFUSED
        s.tracker.subscribe(_printer(args.json))
        state = await s.tracker.start(vm, choice.host, options_from(args))
        if not args.json:
            print(f"migration {state.id}: {vm.name} {vm.host} → {args.to}", flush=True)
        if args.no_wait:
            await asyncio.sleep(1.5)  # long enough for the hosts to take the job over
            state = s.tracker.get(state.id) or state
        else:
            switch = None
            if args.post_copy_after is not None:
                switch = asyncio.create_task(
                    _post_copy_later(s.tracker, state.id, args.post_copy_after))
            state = await s.tracker.wait(state.id)
            if switch is not None:
                switch.cancel()
        if args.json:
            json.dump(state_json(state), sys.stdout, indent=2, default=str)
            print()
        return ExitStatus.OK if state.phase in (MigrationPhase.DONE, MigrationPhase.RUNNING) else (
            ExitStatus.REFUSED if state.phase is MigrationPhase.CANCELLED else ExitStatus.FAILED)


async def _post_copy_later(tracker: MigrationTracker, migration_id: str, after_s: float) -> None:
    await asyncio.sleep(after_s)
    state = tracker.get(migration_id)
    if state is not None and state.active:
        with contextlib.suppress(NovaError):
            await tracker.start_post_copy(migration_id)
            print(f"migration {migration_id}: switched to post-copy", flush=True)


def cmd_drain(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_drain(args))
    except NovaError as err:
        print(f"novacron: {err}", file=sys.stderr)
        return exit_for(err)


async def _drain(args: argparse.Namespace) -> int:
    async with session(args) as s:
        if args.host not in {h.name for h in s.snapshot.hosts}:
            raise NovaError(Code.VM_NOT_FOUND, f"host {args.host!r}",
                            "known: " + ", ".join(h.name for h in s.snapshot.hosts))
        plan = plan_drain(args.host, s.snapshot, s.tracker.busy(), limits=s.rules.limits,
                          spread_by=s.rules.spread_by)
        if not args.json:
            print(f"drain {args.host}: {len(plan.moves)} to move, {len(plan.unplaced)} without "
                  f"a target, {len(plan.skipped)} not running")
            for vm, target in plan.moves:
                print(f"  {vm.name} → {target}")
            for vm, why in plan.unplaced:
                print(f"  {vm.name}: no target ({why})")
        if args.dry_run:
            return ExitStatus.OK
        movable = [vm for vm, _target in plan.moves] + [vm for vm, _why in plan.unplaced]
        if (refused := await s.refusal(movable)) is not None:
            raise refused
        if not args.yes:
            print("novacron: add --yes to start the drain", file=sys.stderr)
            return ExitStatus.REFUSED
        s.tracker.subscribe(_printer(args.json))
        summary = await drain(s.tracker, args.host, s.snapshot, concurrency=args.concurrency,
                                        options=options_from(args), plan=plan)
        if args.json:
            json.dump({"host": args.host, "elapsed_s": summary.elapsed_s,
                       "results": [state_json(r) for r in summary.results],
                       "unplaced": [[vm.name, why] for vm, why in plan.unplaced]},
                      sys.stdout, indent=2, default=str)
            print()
        else:
            print("\n".join(summary.lines()))
        return ExitStatus.OK if not summary.failed and not plan.unplaced else ExitStatus.FAILED


def cmd_list(args: argparse.Namespace) -> int:
    return asyncio.run(_list(args))


async def _list(args: argparse.Namespace) -> int:
    store = await Store.open(open_context(args)[1].store)
    try:
        rows = await store.migrations(limit=50)
    finally:
        await store.close()
    if args.json:
        json.dump([dataclasses.asdict(r) for r in rows], sys.stdout, indent=2, default=str)
        print()
        return ExitStatus.OK
    for r in rows:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.started_at))
        took = f"{r.finished_at - r.started_at:.1f} s" if r.finished_at else "unfinished"
        print(f"{when}  {r.vm_name:20} {r.source} → {r.target}  {r.phase.value:9} {took}"
              f"{'  ' + r.error if r.error else ''}")
    return ExitStatus.OK


def cmd_recover(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_recover(args))
    except NovaError as err:
        print(f"novacron: {err}", file=sys.stderr)
        return exit_for(err)


async def _recover(args: argparse.Namespace) -> int:
    async with session(args) as s:
        s.tracker.subscribe(_printer(args.json))
        found = await s.tracker.recover()
        if not found and not args.json:
            print("no unfinished migrations")
        waits = [asyncio.ensure_future(s.tracker.wait(state.id)) for state in found]
        if waits:  # a finished or failed one settles at once; a running one only with --follow
            await asyncio.wait(waits, timeout=None if args.follow else 5.0)
        states = [s.tracker.get(state.id) or state for state in found]
        if args.json:
            json.dump([state_json(st) for st in states], sys.stdout, indent=2, default=str)
            print()
        else:
            for st in states:
                print(summary_line(st))
        return ExitStatus.OK
