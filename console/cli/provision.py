"""`novacron vm create`, `novacron vm resize`, `novacron vm grow-disk` and `novacron template list`.

Both actions go through the dispatcher (read-only refuses them, the audit records them). A
create prints, for each VM, the scheduler's ranking with its reasons and the host chosen,
then each saga step as it happens (on stderr), then the outcome. `--request-id` makes a
retried command return the VM already made instead of making another.

Exit statuses: `console.cli.exit`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from console.actions import registry as actions
from console.actions.dispatcher import Dispatcher, Outcome, Request
from console.cli.actions import outcome_json, print_outcomes
from console.cli.common import ascii_safe, fleet_of, open_context
from console.cli.exit import ExitStatus, exit_for, exit_for_all
from console.errors import NovaError
from console.fleet.resolve import resolve_vm
from console.models import VM
from console.provision import create, resize, templates
from console.provision.create import CreateRequest, Planned
from console.provision.resize import grow_disk_request, resize_request
from console.store import Store


def _size(text: str) -> int:
    try:
        return templates.parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parsers(sub: Any, vm_sub: Any) -> None:
    p = vm_sub.add_parser("create", help="make VMs from a template (the scheduler picks hosts)")
    p.add_argument("--template", "-t", required=True, help="template name (novacron template list)")
    p.add_argument("--name", "-n", required=True, help="VM name (with --count: NAME-1…NAME-K)")
    p.add_argument("--count", type=int, default=1, help="how many VMs (default 1)")
    p.add_argument("--host", default=create.AUTO, help="auto (the scheduler's choice) or a host")
    p.add_argument("--vcpus", type=int, help="vCPUs (default: the template's)")
    p.add_argument("--memory", type=_size, help="memory, e.g. 512MiB, 8GiB (default: template's)")
    p.add_argument("--disk", type=_size, help="disk size (default: the template's)")
    p.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE", help="add a tag")
    p.add_argument("--request-id", default="", help="idempotency: the same id twice makes one VM")
    p.add_argument("--json", action="store_true", help="JSON output")
    p.set_defaults(func=cmd_create)

    r = vm_sub.add_parser("resize", help="change vCPUs and memory (live up to the maximum)")
    r.add_argument("names", nargs="+", metavar="NAME")
    r.add_argument("--vcpus", type=int, help="vCPUs")
    r.add_argument("--memory", type=_size, help="memory, e.g. 8GiB")
    r.add_argument("--restart", action="store_true",
                   help="stop, resize and start again as one action (EC2: a running instance)")
    r.add_argument("--json", action="store_true", help="JSON output")
    r.set_defaults(func=cmd_resize)

    g = vm_sub.add_parser("grow-disk", help="enlarge a VM's disk (the guest then grows its "
                          "partition and file system)")
    g.add_argument("names", nargs="+", metavar="NAME")
    g.add_argument("--disk", default="vda", help="the disk's target name (default vda)")
    g.add_argument("--size", type=_size, required=True, help="the new size, e.g. 20GiB")
    g.add_argument("--json", action="store_true", help="JSON output")
    g.set_defaults(func=cmd_grow_disk)

    t = sub.add_parser("template", help="what new VMs are made from")
    t_sub = t.add_subparsers(dest="template_command", required=True)
    tl = t_sub.add_parser("list", help="the templates of the context")
    tl.add_argument("--json", action="store_true", help="JSON output")
    tl.set_defaults(func=cmd_template_list)


def cmd_template_list(args: argparse.Namespace) -> int:
    _name, context, _ro = open_context(args)
    rows = templates.rows(context)
    if args.json:
        json.dump([asdict(r) for r in rows], sys.stdout, indent=2, ensure_ascii=True)
        print()
        return ExitStatus.OK
    if not rows:
        print("no templates in this context")
    for r in rows:
        print(ascii_safe(f"{r.name:16} {r.kind:9} {r.vcpus:>3} vCPU {r.memory_bytes / 2**20:>8,.0f} MiB "
                         f"{r.disk_bytes / 2**20:>8,.0f} MiB disk  {r.source}  {r.description}"))
    return ExitStatus.OK


def cmd_create(args: argparse.Namespace) -> int:
    request = CreateRequest(template=args.template, name=args.name, count=args.count,
                            host=args.host, vcpus=args.vcpus, memory_bytes=args.memory,
                            disk_bytes=args.disk, tags=tuple(args.tag),
                            request_id=args.request_id)
    return asyncio.run(_create(args, request))


def _print_plan(planned: list[Planned]) -> None:
    for p in planned:
        where = p.chosen.host.name if p.chosen is not None else "-"
        print(ascii_safe(f"{p.name}: host {where}  (request {p.request_id})"), file=sys.stderr)
        for fit in p.ranking:
            mark = "*" if p.chosen is fit else " "
            print(ascii_safe(f"  {mark} {fit.host.name:16} {fit.why()}"), file=sys.stderr)


def _print_step(name: str, step: str, status: str, detail: str) -> None:
    print(ascii_safe(f"  {name}: {step} {status}  {detail}"), file=sys.stderr)


async def _create(args: argparse.Namespace, request: CreateRequest) -> int:
    context_name, context, read_only = open_context(args)
    fleet = fleet_of(context_name, context, read_only=read_only)
    try:
        snapshot = await fleet.poll_once()
        kinds = {name: b.kind for name, b in fleet.backends.items()}
        try:
            planned = create.plan(request, context, snapshot, kinds)
        except NovaError as err:
            print(f"novacron: {ascii_safe(str(err))}", file=sys.stderr)
            return exit_for(err)
        if not args.json:
            _print_plan(planned)
        store = await Store.open(context.store)
        try:
            dispatcher = Dispatcher(fleet.backends, audit=store, context=context_name,
                                    read_only=read_only)
            outcomes = await create.run(dispatcher, planned, origin="cli",
                                        on_step=None if args.json else _print_step)
        finally:
            await store.close()
    finally:
        await fleet.stop()
    if args.json:
        rows = [_created_json(o, p) for o, p in zip(outcomes, planned, strict=True)]
        json.dump(rows, sys.stdout, indent=2, ensure_ascii=True)
        print()
    else:
        print_outcomes(actions.get(actions.CREATE), outcomes, as_json=False)
    return exit_for_all(o.error for o in outcomes)


def _created_json(outcome: Outcome, p: Planned) -> dict[str, Any]:
    data = outcome_json(outcome)
    vm = outcome.value
    data["result"] = None if vm is None else {"id": vm.id, "name": vm.name, "host": vm.host,
                                              "state": vm.state.value, "backend": vm.backend}
    data["ranking"] = [{"host": f.host.name, "ok": f.ok, "score": round(f.score, 1),
                        "why": f.why()} for f in p.ranking]
    return data


def cmd_resize(args: argparse.Namespace) -> int:
    def request(vm: VM) -> Request:
        return resize_request(vm, vcpus=args.vcpus, memory_bytes=args.memory, origin="cli",
                              restart=args.restart)

    return asyncio.run(_resize(args, request, actions.RESIZE))


def cmd_grow_disk(args: argparse.Namespace) -> int:
    def request(vm: VM) -> Request:
        return grow_disk_request(vm, disk=args.disk, size_bytes=args.size, origin="cli")

    return asyncio.run(_resize(args, request, actions.GROW_DISK))


async def _resize(args: argparse.Namespace, request: Callable[[VM], Request], action: str) -> int:
    context_name, context, read_only = open_context(args)
    fleet = fleet_of(context_name, context, read_only=read_only)
    try:
        snapshot = await fleet.poll_once()
        try:
            requests = [request(resolve_vm(snapshot.vms, ref)) for ref in args.names]
        except NovaError as err:
            print(f"novacron: {ascii_safe(str(err))}", file=sys.stderr)
            return exit_for(err)
        store = await Store.open(context.store)
        try:
            dispatcher = Dispatcher(fleet.backends, audit=store, context=context_name,
                                    read_only=read_only)
            outcomes = await resize.run(dispatcher, requests,
                                        on_step=None if args.json else _print_step)
        finally:
            await store.close()
    finally:
        await fleet.stop()
    if args.json:
        rows = [{**outcome_json(o), "result": None if o.value is None else asdict(o.value)}
                for o in outcomes]
        json.dump(rows, sys.stdout, indent=2, ensure_ascii=True)
        print()
    else:
        print_outcomes(actions.get(action), outcomes, as_json=False)
    return exit_for_all(o.error for o in outcomes)
