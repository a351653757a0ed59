"""`novacron vm list` and `novacron config check`: read the fleet once, print it."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from console.cli.common import ascii_safe, fleet_of, open_context, poll_once, vm_json
from console.cli.exit import ExitStatus
from console.config import config_path
from console.fleet import query


def add_parsers(sub: Any, vm_sub: Any) -> None:
    config = sub.add_parser("config", help="inspect the configuration")
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = config_sub.add_parser("check", help="validate the config and try each backend")
    check.set_defaults(func=cmd_config_check)

    vm_list = vm_sub.add_parser("list", help="list VMs")
    vm_list.add_argument("--json", action="store_true", help="JSON output")
    vm_list.add_argument("--filter", default="", help="same syntax as the console's / filter")
    vm_list.set_defaults(func=cmd_vm_list)


def cmd_config_check(args: argparse.Namespace) -> ExitStatus:
    path = args.config or config_path()
    name, context, read_only = open_context(args)
    print(f"config: {path} ({'found' if os.path.exists(path) else 'absent: demo fleet'})")
    print(f"context: {name} ({len(context.backends)} backends, read_only={read_only})")
    snapshot = asyncio.run(poll_once(fleet_of(name, context, read_only=True, timeout_s=15)))
    failed = 0
    for health in snapshot.health:
        if health.ok:
            count = sum(1 for vm in snapshot.vms if vm.backend == health.name)
            print(f"  ok    {health.name}: {count} VMs")
        else:
            failed += 1
            print(f"  FAIL  {health.name}: {health.error}")
    return ExitStatus.FAILED if failed else ExitStatus.OK


def cmd_vm_list(args: argparse.Namespace) -> ExitStatus:
    name, context, _read_only = open_context(args)
    fleet = fleet_of(name, context, read_only=True)
    kinds = {source: backend.kind for source, backend in fleet.backends.items()}
    snapshot = asyncio.run(poll_once(fleet))
    vms = query.sort_vms(query.filter_vms(snapshot.vms, args.filter, kinds), "name")
    if args.json:
        json.dump([vm_json(vm) for vm in vms], sys.stdout, indent=2, ensure_ascii=True)
        print()
    else:
        for vm in vms:
            print(f"{ascii_safe(vm.name):32} {vm.state.value:10} {ascii_safe(vm.host):16} "
                  f"{vm.vcpus:>4} {vm.memory_bytes // 2**20:>8} MiB  {ascii_safe(','.join(vm.tags))}")
    for health in snapshot.health:
        if not health.ok:
            print(f"novacron: warning: {health.name} is stale: {health.error}", file=sys.stderr)
    return ExitStatus.OK
