"""Resize a VM: vCPUs and memory. The result says whether it applied live or at next boot."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from console.actions.dispatcher import Request
from console.actions.registry import RESIZE
from console.errors import NovaError
from console.models import VM
from console.provision.resize import resize_request
from console.provision.templates import parse_size
from screens.console_app import console_app
from screens.run_action import notify, refuse_up_front, target_of
from widgets.format import human_bytes
from widgets.steady_input import SteadyInput


class ResizeDialog(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="resize.close"),
    ]
    DEFAULT_CSS = """
    ResizeDialog { align: center middle; }
    ResizeDialog > Vertical { width: 64; max-width: 98%; height: auto;
        border: thick $accent 60%; background: $surface; padding: 0 1; }
    ResizeDialog .row { height: 1; }
    ResizeDialog .row Label { width: 10; }
    ResizeDialog .row SteadyInput { width: 1fr; height: 1; border: none; padding: 0 1; }
    ResizeDialog #result { height: auto; }
    ResizeDialog #refusal { color: $text-error; height: auto; }
    ResizeDialog #buttons { height: auto; align-horizontal: right; }
    ResizeDialog Button { margin-left: 2; }
    """

    def __init__(self, vm: VM, origin: str = "tui") -> None:
        super().__init__()
        self.vm = vm
        self.origin = origin

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(f"Resize {self.vm.name}: now {self.vm.vcpus} vCPU, "
                              f"{human_bytes(self.vm.memory_bytes)}"))
            with Horizontal(classes="row"):
                yield Label("vCPUs")
                yield SteadyInput(placeholder=str(self.vm.vcpus), id="vcpus", type="integer")
            with Horizontal(classes="row"):
                yield Label("memory")
                yield SteadyInput(placeholder="e.g. 512MiB, 8GiB", id="memory")
            yield Static("", id="result")
            yield Label("", id="refusal")
            with Horizontal(id="buttons"):
                yield Button("Close", id="close")
                yield Button("Resize", id="go", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#vcpus", SteadyInput).focus()

    def request(self) -> Request:
        vcpus = self.query_one("#vcpus", SteadyInput).value.strip()
        memory = self.query_one("#memory", SteadyInput).value.strip()
        return resize_request(self.vm, vcpus=int(vcpus) if vcpus else None,
                              memory_bytes=parse_size(memory) if memory else None,
                              origin=self.origin)

    @on(Button.Pressed, "#go")
    def _go(self) -> None:
        try:
            request = self.request()
        except (NovaError, ValueError) as err:
            self.query_one("#refusal", Label).update(Text(f"Refused: {err}"))
            return
        self.resize(request)

    @work(group="actions", name="action:vm.resize")
    async def resize(self, request: Request) -> None:
        dispatcher = console_app(self.app).dispatcher
        if dispatcher is None:
            return
        outcome = await dispatcher.run(request)
        if outcome.ok:
            text = f"done: {outcome.value.note}"
            notify(self.app, f"Resized {self.vm.name}: {outcome.value.note}")
        else:
            text = f"{outcome.status}: {outcome.error}"
            notify(self.app, f"Resize {self.vm.name}: {outcome.error}", severity="error")
        self.query_one("#result", Static).update(Text(text))

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(None)


def open_resize_dialog(app: Any, vm: VM | None, origin: str = "tui") -> None:
    """The dialog, unless the dispatcher would refuse a resize of `vm` anyway (read-only,
    a backend that cannot resize, a busy VM): then refused, audited and shown at once."""
    if vm is None:
        app.notify("Select a VM to resize", severity="warning", timeout=3)
        return
    if refuse_up_front(app, [Request(RESIZE, target_of(vm), {}, origin=origin)]):
        return
    app.push_screen(ResizeDialog(vm, origin))
