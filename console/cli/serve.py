"""`novacron serve --wall`: the wall display in a browser, for a NOC TV with no terminal.

textual-serve runs one `novacron --wall` per browser session (the very wall of the terminal:
read-only, only `q` and the page keys) and relays its screen over a websocket. It listens on
loopback unless another address is asked for with `--bind`: the wall shows the whole fleet to
whoever reaches the port, so exposing it is a decision, said on stderr when made.
"""

from __future__ import annotations

import argparse
import ipaddress
import shlex
import socket
import sys

from console.cli.common import parse_duration
from console.cli.exit import ExitStatus

DEFAULT_BIND = "127.0.0.1:8000"


def parse_bind(text: str) -> tuple[str, int]:
    """'HOST:PORT' (IPv6 as '[::1]:8000') → (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"not HOST:PORT: {text!r} (e.g. {DEFAULT_BIND})")
    return host.strip("[]") or "127.0.0.1", int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def public_url(host: str, port: int) -> str:
    """The address browsers are told to reach the websocket at: the bound one, or this
    machine's name when bound to every interface."""
    if host in ("0.0.0.0", "::", ""):
        host = socket.getfqdn()
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def wall_command(args: argparse.Namespace) -> str:
    """The command each browser session runs: this Python, this package, the same context."""
    argv = [sys.executable, "-m", "console.cli.main"]
    for flag in ("config", "context", "theme"):
        value = getattr(args, flag, None)
        if value:
            argv += [f"--{flag}", str(value)]
    argv += ["--wall", "--cycle", f"{args.cycle:g}s"]
    return shlex.join(argv)


def cmd_serve(args: argparse.Namespace) -> int:
    from textual_serve.server import Server  # aiohttp and jinja load only for this command

    host, port = args.bind
    url = args.public_url or public_url(host, port)
    if not is_loopback(host):
        print(f"novacron serve: listening on {host}:{port}: anyone who can reach it sees the "
              "wall (read-only); put it behind your VPN or a proxy with authentication",
              file=sys.stderr)
    Server(wall_command(args), host=host, port=port, title="NovaCron wall",
           public_url=url).serve()
    return ExitStatus.OK


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    serve = subparsers.add_parser(
        "serve", help="serve the wall display to web browsers (read-only)",
        description="Serve the wall display (read-only, as `novacron --wall`) to web browsers "
                    "through textual-serve, one wall per browser session.")
    serve.add_argument("--wall", action="store_true", required=True,
                       help="serve the wall display (the only page that can be served)")
    serve.add_argument("--bind", type=parse_bind, default=parse_bind(DEFAULT_BIND),
                       metavar="HOST:PORT",
                       help=f"address to listen on (default {DEFAULT_BIND}: this machine only)")
    serve.add_argument("--public-url", metavar="URL",
                       help="the URL browsers use, when a proxy stands in front")
    serve.add_argument("--cycle", type=parse_duration, default=argparse.SUPPRESS,
                       metavar="DURATION", help="time on each wall page (default 20s)")
    serve.add_argument("--context", "-c", default=argparse.SUPPRESS, help="context to show")
    serve.set_defaults(func=cmd_serve)
