"""Resize a VM: vCPUs and memory, and grow a disk. The result says whether it applied live or
at next boot, and for a disk what is left to do inside the guest."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Label, Static

from backends.base import SupportsRestartResize
from console.actions.dispatcher import Request
from console.actions.registry import GROW_DISK, RESIZE
from console.errors import NovaError
from console.models import VM
from console.provision import resize
from console.provision.resize import grow_disk_request, resize_request
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

    def __init__(self, vm: VM, origin: str = "tui", *, disk: bool = False,
                 can_grow: bool = True) -> None:
        super().__init__()
        self.vm = vm
        self.origin = origin
        self.disk_first = disk
        """Opened to grow a disk (its key): the disk size field has the focus."""
        self.can_grow = can_grow
        """The VM's backend can grow disks (the disk fields are shown)."""

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
            with Horizontal(classes="row") as row:
                row.display = self.can_grow
                yield Label("disk")
                yield SteadyInput(placeholder="vda", id="disk")
            with Horizontal(classes="row") as row:
                row.display = self.can_grow
                yield Label("grow to")
                yield SteadyInput(placeholder="e.g. 20GiB (a disk only grows)", id="disk_size")
            dispatcher = console_app(self.app).dispatcher
            backend = dispatcher.backend(self.vm.backend) if dispatcher is not None else None
            if isinstance(backend, SupportsRestartResize):
                yield Checkbox("stop, resize and start again (one action)", id="restart",
                               value=False)
            yield Static("", id="result")
            yield Label("", id="refusal")
            with Horizontal(id="buttons"):
                yield Button("Close", id="close")
                yield Button("Resize", id="go", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#disk_size" if self.disk_first else "#vcpus", SteadyInput).focus()

    def _field(self, name: str) -> str:
        return self.query_one(f"#{name}", SteadyInput).value.strip()

    def requests(self) -> list[Request]:
        """A resize when vCPUs or memory are given, a disk growth when a size is given."""
        vcpus, memory, disk_size = self._field("vcpus"), self._field("memory"), self._field("disk_size")
        made = []
        if vcpus or memory or not disk_size:
            made.append(resize_request(self.vm, vcpus=int(vcpus) if vcpus else None,
                                       memory_bytes=parse_size(memory) if memory else None,
                                       origin=self.origin, restart=self._restart()))
        if disk_size:
            made.append(grow_disk_request(self.vm, disk=self._field("disk") or "vda",
                                          size_bytes=parse_size(disk_size), origin=self.origin))
        return made

    def _restart(self) -> bool:
        """The "stop, resize and start again" box (shown for a backend that needs it: EC2)."""
        box = self.query("#restart")
        return bool(box) and box.first(Checkbox).value

    @on(Button.Pressed, "#go")
    def _go(self) -> None:
        try:
            requests = self.requests()
        except (NovaError, ValueError) as err:
            self.query_one("#refusal", Label).update(Text(f"Refused: {err}"))
            return
        self.query_one("#refusal", Label).update("")
        self.resize(requests)

    @work(group="actions", name="action:vm.resize")
    async def resize(self, requests: list[Request]) -> None:
        dispatcher = console_app(self.app).dispatcher
        if dispatcher is None:
            return
        lines = []
        for request in requests:
            what = "Resize" if request.action == RESIZE else "Grow disk"
            (outcome,) = await resize.run(dispatcher, [request], on_step=self._step)
            if outcome.ok:
                lines.append(f"done: {outcome.value.note}")
                notify(self.app, f"{what} {self.vm.name}: {outcome.value.note}")
            else:
                lines.append(f"{outcome.status}: {outcome.error}")
                notify(self.app, f"{what} {self.vm.name}: {outcome.error}", severity="error")
        self.query_one("#result", Static).update(Text("\n".join(lines)))

    def _step(self, _name: str, step: str, status: str, detail: str) -> None:
        """A restarting resize's progress: stop, type, start (and an undo), as they happen."""
        self.query_one("#result", Static).update(Text(f"{step}: {status}  {detail}"))

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(None)


def open_resize_dialog(app: Any, vm: VM | None, origin: str = "tui", *, disk: bool = False) -> None:
    """The dialog, unless the dispatcher would refuse a resize of `vm` anyway (read-only,
    a backend that cannot resize, a busy VM): then refused, audited and shown at once.
    `disk`: opened to grow a disk (the refusal is then about that)."""
    if vm is None:
        app.notify("Select a VM to resize", severity="warning", timeout=3)
        return
    action = GROW_DISK if disk else RESIZE
    if refuse_up_front(app, [Request(action, target_of(vm), {}, origin=origin)]):
        return
    dispatcher = console_app(app).dispatcher
    can_grow = disk or dispatcher is None or dispatcher.certain_refusals(
        [Request(GROW_DISK, target_of(vm), {}, origin=origin)]) is None
    app.push_screen(ResizeDialog(vm, origin, disk=disk, can_grow=can_grow))
