"""Accept an unknown SSH host key from the hosts screen (`K`), after seeing its fingerprint.

The dialog shows what the operator must check out of band (the alias, the address and port,
the key type, the offered SHA256 fingerprint, the known_hosts file it will be written to) and
asks for the alias to be typed. The acceptance is a registered action (`host.accept_key`),
so the dispatcher refuses it in read-only and the audit records it either way; the link
checks again that the key is still the unknown one it refused, with that fingerprint.

A changed or revoked key is never accepted here: the action is refused (audited) and a
dialog names both fingerprints and the command to run after checking the host.
"""

from __future__ import annotations

import shlex
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from backends.base import RefusedKey, SupportsHostLink
from console.actions.dispatcher import Request, Target
from console.actions.registry import ACCEPT_HOST_KEY
from console.errors import Code, NovaError
from console.models import Host
from screens.confirm import DIALOG_CSS, TypedConfirmation, TypeNameScreen
from screens.console_app import console_app
from screens.run_action import notify, report

UNKNOWN = Code.HOST_KEY_UNKNOWN.message
VERDICTS = {c.message: c for c in (Code.HOST_KEY_UNKNOWN, Code.HOST_KEY_CHANGED,
                                   Code.HOST_KEY_REVOKED)}


def key_text(refused: RefusedKey) -> Text:
    """What the operator compares with what the host's owner says (plain text, no markup)."""
    text = Text()
    rows = [("Host", refused.host)]
    if refused.hop != refused.host:
        rows.append(("Refused at", f"{refused.hop} (a jump host on the way)"))
    rows += [("Address", host_port(refused)), ("Key type", refused.key_type or "?"),
             ("Offered", refused.fingerprint)]
    rows += [("On file", fp) for fp in refused.on_file]
    if refused.known_hosts:
        rows.append(("known_hosts", refused.known_hosts))
    for label, value in rows:
        text.append(f"{label:<12}", style="bold")
        text.append(f"{value}\n")
    return text


def host_port(refused: RefusedKey) -> str:
    """`127.0.0.1:2222` (`[::1]:2222`) from the link's `127.0.0.1 port 2222`."""
    address, _, port = refused.address.partition(" port ")
    shown = f"[{address}]" if ":" in address else address
    return f"{shown}:{port}" if port else shown


def keygen_remove(refused: RefusedKey) -> str:
    """`ssh-keygen -R <name> -f <file>`: the name as known_hosts writes it (`[host]:port`)."""
    address, _, port = refused.address.partition(" port ")
    name = address if port in ("", "22") else f"[{address}]:{port}"
    return shlex.join(["ssh-keygen", "-R", name, "-f", refused.known_hosts or "~/.ssh/known_hosts"])


class RefusedKeyScreen(ModalScreen[None]):
    """A changed or revoked key: why it cannot be accepted here and what to do instead."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="host_key.close"),
    ]
    DEFAULT_CSS = DIALOG_CSS.format(cls="RefusedKeyScreen")

    def __init__(self, refused: RefusedKey) -> None:
        super().__init__()
        self.refused = refused

    def compose(self) -> ComposeResult:
        refused = self.refused
        body = key_text(refused)
        body.append(f"\n{refused.verdict}: it is never accepted from the console (a changed "
                    "key may be a man in the middle).\nIf the host was really reinstalled, "
                    "check its new key out of band (its console, its owner), then run:\n\n",
                    style="bold")
        body.append(f"  {keygen_remove(refused)}\n")
        body.append("\nand accept the new key here once it shows as unknown.")
        with Vertical():
            yield Static(Text(f"{refused.verdict}: {refused.hop}"), classes="title")
            yield Static(body, id="body")
            with Horizontal():
                yield Button("Close", id="close", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(None)


def refusal_error(refused: RefusedKey) -> NovaError:
    """The audited reason a changed/revoked key cannot be accepted from the console."""
    code = VERDICTS.get(refused.verdict, Code.HOST_KEY_CHANGED)
    known = ", ".join(refused.on_file) or "none"
    return NovaError(code, f"{refused.hop} ({refused.address}) offered {refused.fingerprint}; "
                     f"known_hosts has {known}",
                     f"never accepted from the console; check the host, then run "
                     f"{keygen_remove(refused)}")


async def accept_host_key(app: App[Any], host: Host, origin: str = "tui") -> None:
    """The `K` flow for one host (in a worker: the dialogs wait)."""
    dispatcher = console_app(app).dispatcher
    if dispatcher is None:
        notify(app, "Actions are not ready yet (the audit store is opening).", severity="warning")
        return
    target = Target(host.backend, host.name, host.name)
    probe = Request(ACCEPT_HOST_KEY, target, {"fingerprint": ""}, origin=origin)
    why = dispatcher.precheck(probe, confirmation=False)
    if why is not None and why.kind is Code.READ_ONLY:
        report(app, probe.spec, [await dispatcher.refuse(probe, why)])
        return
    backend = dispatcher.backend(host.backend)
    link = backend.host_link(host.name) if isinstance(backend, SupportsHostLink) else None
    if link is None:
        notify(app, f"Accept host key: not available for this source ({host.backend} is not "
               "reached over SSH).", severity="warning", title="Accept host key")
        return
    refused = link.refused_key()
    if refused is None:
        notify(app, f"{host.name}: no host key was refused on the way to it; nothing to accept.",
               title="Accept host key")
        return
    request = Request(ACCEPT_HOST_KEY, target, {"fingerprint": refused.fingerprint},
                      origin=origin)
    if refused.verdict != UNKNOWN:
        report(app, request.spec, [await dispatcher.refuse(request, refusal_error(refused))])
        await app.push_screen_wait(RefusedKeyScreen(refused))
        return
    if why is not None:
        report(app, request.spec, [await dispatcher.refuse(request, why)])
        return
    body = key_text(refused)
    body.append("\nCheck this fingerprint with the host's owner (or on its console: "
                "ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub) before trusting it.")
    answer: TypedConfirmation | None = await app.push_screen_wait(
        TypeNameScreen(f"Accept the host key of {refused.hop}?", body, refused.hop))
    if answer is None:
        notify(app, f"{refused.hop}: the key was not accepted; nothing was written.",
               title="Accept host key")
        return
    outcome = await dispatcher.run(
        Request(ACCEPT_HOST_KEY, target, request.params, typed_name=target.name, origin=origin))
    report(app, request.spec, [outcome])
