"""`lab up|status|down` as argparse subcommands the main CLI registers with `add_parser`.

Handlers take the parsed Namespace and return an exit code: 0 done, 1 failed (with the reason
on stderr), 2 this machine cannot run the lab (preflight: what is missing and how to get it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from console.lab import preflight
from console.lab.layout import DEFAULT_ROOT
from console.lab.report import as_json, as_text

EXIT_FAILED = 1
EXIT_PREFLIGHT = 2


def _quiet_libvirt() -> None:
    """libvirt prints every error to stderr by default; ours are reported once, as exceptions."""
    import libvirt
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)


def _lab(args: argparse.Namespace):  # -> Lab; imported late so `--help` needs no libvirt
    from console.lab.lab import Lab
    _quiet_libvirt()
    return Lab(root=Path(args.lab_root), port_offset=args.port_offset)


def _step(step: str) -> None:
    print(f"  {step}", flush=True)


def cmd_up(args: argparse.Namespace) -> int:
    if problems := preflight.problems():
        print("novacron lab: this machine cannot run the lab yet:", file=sys.stderr)
        for line in problems:
            print(f"  {line}", file=sys.stderr)
        return EXIT_PREFLIGHT
    from console.lab.lab import LabError
    lab = _lab(args)
    print(f"novacron lab: bringing up {args.hosts} host(s) with {args.vms} guest(s) each…",
          flush=True)
    try:
        status = lab.up(hosts=args.hosts, vms=args.vms, memory_mib=args.memory,
                        accelerator=None if args.accel == "auto" else args.accel,
                        store=args.store, progress=_step)
    except (LabError, RuntimeError, OSError, ValueError) as exc:
        print(f"novacron lab: up failed: {exc}", file=sys.stderr)
        print("  (what did start is recorded; `novacron lab down` removes it)", file=sys.stderr)
        return EXIT_FAILED
    print(as_text(status))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    status = _lab(args).status()
    print(as_json(status) if args.json else as_text(status))
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from console.lab.lab import LabError
    try:
        removed = _lab(args).down(progress=_step)
    except (LabError, RuntimeError, OSError) as exc:
        print(f"novacron lab: down failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"novacron lab: down ({len(removed)} guest(s) removed)")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `lab` with `up`, `status`, `down` on the main CLI's subparsers."""
    lab = subparsers.add_parser("lab", help="real KVM lab hosts on this machine (root)",
                                description="Run several libvirtd hosts with KVM guests here.")
    # A second lab beside the default one (tests, demos): its own root and shifted ports.
    lab.add_argument("--lab-root", default=str(DEFAULT_ROOT), help=argparse.SUPPRESS)
    lab.add_argument("--port-offset", type=int, default=0, help=argparse.SUPPRESS)
    sub = lab.add_subparsers(dest="lab_command", required=True, metavar="{up,status,down}")
    up = sub.add_parser("up", help="start the lab (idempotent) and write the 'lab' context")
    up.add_argument("--hosts", type=int, default=3, help="number of lab hosts (default 3)")
    up.add_argument("--vms", type=int, default=4, help="guests per host (default 4)")
    up.add_argument("--memory", type=int, default=128, help="MiB per guest (default 128)")
    up.add_argument("--accel", choices=("auto", "kvm", "qemu"), default="auto",
                    help="auto: KVM if it boots the guest image, else QEMU emulation")
    up.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite",
                    help="postgresql: also start a PostgreSQL and make it the lab contexts' "
                         "store, to rehearse team mode (several consoles, shared locks)")
    up.set_defaults(func=cmd_up)
    status = sub.add_parser("status", help="hosts, ports, processes, guests, Prometheus")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=cmd_status)
    down = sub.add_parser("down", help="remove every guest, process, mount and the context")
    down.set_defaults(func=cmd_down)
