"""New VM: a template, a name, sizes, how many, tags, and the host (auto, or one of the
scheduler's ranking, each with its reasons). Progress shows per step for every VM being
made; the form closes itself only when the operator says so, so the outcome stays readable.

Everything goes through `console.provision.create` (plan, then the dispatcher), so the TUI
refuses, audits and compensates exactly as `novacron vm create` does.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from console.actions.dispatcher import Request, Target
from console.actions.registry import CREATE
from console.config import Context
from console.errors import NovaError
from console.provision import create, templates
from console.provision.create import AUTO, CreateRequest, Planned
from screens.console_app import console_app
from screens.run_action import notify, refuse_up_front
from widgets.steady_input import SteadyInput


def _int(text: str) -> int | None:
    return int(text) if text.strip().isdigit() else None


class NewVMDialog(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="new_vm.close"),
    ]
    DEFAULT_CSS = """
    NewVMDialog { align: center middle; }
    NewVMDialog > Vertical { width: 90; max-width: 98%; height: auto; max-height: 98%;
        border: thick $accent 60%; background: $surface; padding: 0 1; overflow-y: auto; }
    NewVMDialog .title { text-style: bold; }
    NewVMDialog .row { height: 1; }
    NewVMDialog .row Label { width: 10; }
    NewVMDialog .row SteadyInput { width: 1fr; height: 1; border: none; padding: 0 1; }
    NewVMDialog #hosts { height: auto; max-height: 6; display: none; }
    NewVMDialog #why { height: auto; }
    NewVMDialog #progress { height: auto; max-height: 10; }
    NewVMDialog #refusal { color: $text-error; height: auto; }
    NewVMDialog #buttons { height: auto; align-horizontal: right; }
    NewVMDialog Button { margin-left: 2; }
    """

    def __init__(self, context: Context, origin: str = "tui") -> None:
        super().__init__()
        self.context = context
        self.origin = origin
        self.planned: list[Planned] = []
        self.progress: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        names = sorted(self.context.templates)
        with Vertical():
            yield Static("New VM", classes="title")
            yield Select([(n, n) for n in names], value=names[0] if names else Select.BLANK,
                         allow_blank=not names, id="template")
            for field, hint in (("name", "name (with count > 1: name-1, name-2…)"),
                                ("count", "1"), ("vcpus", "the template's"),
                                ("memory", "the template's, e.g. 512MiB"),
                                ("tags", "key=value, comma separated")):
                with Horizontal(classes="row"):
                    yield Label(field)
                    yield SteadyInput(placeholder=hint, id=field)
            yield OptionList(id="hosts")
            yield Static("", id="why")
            yield Static("", id="progress")
            yield Label("", id="refusal")
            with Horizontal(id="buttons"):
                yield Button("Close", id="close")
                yield Button("Rank hosts", id="rank")
                yield Button("Create", id="go", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#name", SteadyInput).focus()
        if not self.context.templates:
            self._refuse("this context has no templates: add [contexts.<name>.templates.<t>]")

    def _refuse(self, text: str) -> None:
        self.query_one("#refusal", Label).update(Text(text))

    def request(self, host: str = AUTO) -> CreateRequest:
        value = self.query_one("#template", Select).value
        memory = self.query_one("#memory", SteadyInput).value.strip()
        tags = self.query_one("#tags", SteadyInput).value
        return CreateRequest(
            template=str(value) if value is not Select.BLANK else "",
            name=self.query_one("#name", SteadyInput).value.strip(),
            count=_int(self.query_one("#count", SteadyInput).value) or 1, host=host,
            vcpus=_int(self.query_one("#vcpus", SteadyInput).value),
            memory_bytes=templates.parse_size(memory) if memory else None,
            tags=tuple(t.strip() for t in tags.split(",") if t.strip()))

    def plan(self, host: str = AUTO) -> list[Planned] | None:
        """Plan the request and show the first VM's ranking; None (and why) when it cannot."""
        app = console_app(self.app)
        self._refuse("")
        if app.snapshot is None:
            self._refuse("no fleet data yet: wait for the first poll")
            return None
        try:
            planned = create.plan(self.request(host), self.context, app.snapshot,
                                  {n: b.kind for n, b in app.fleet.backends.items()})
        except (NovaError, ValueError) as err:
            self._refuse(f"Refused: {err}")
            return None
        hosts = self.query_one("#hosts", OptionList)
        hosts.display = True
        hosts.clear_options()
        first = planned[0]
        hosts.add_options([Option(Text(f"auto ({first.chosen.host.name})" if first.chosen
                                       else "auto (no host fits)"), id=AUTO)] +
                          [Option(Text(f"{'✓' if f.ok else '✗'} {f.host.name:16} "
                                       f"score {f.score:3.0f}"), id=f.host.name)
                           for f in first.ranking])
        self.query_one("#why", Static).update(Text("\n".join(
            f"{f.host.name}: {f.why()}" for f in first.ranking)))
        self.planned = planned
        return planned

    @on(Button.Pressed, "#rank")
    def _rank(self) -> None:
        self.plan()

    @on(Button.Pressed, "#go")
    def _go(self) -> None:
        hosts = self.query_one("#hosts", OptionList)
        index = hosts.highlighted
        host = AUTO
        if index is not None and index > 0:
            host = str(hosts.get_option_at_index(index).id)
        planned = self.plan(host)
        if planned is None:
            return
        if errors := [p for p in planned if p.error is not None]:
            self._refuse(f"Refused: {errors[0].name}: {errors[0].error}")
            return
        self.make(planned)

    @work(group="actions", name="action:vm.create")
    async def make(self, planned: list[Planned]) -> None:
        dispatcher = console_app(self.app).dispatcher
        if dispatcher is None:
            self._refuse("the audit store is not open: actions are refused")
            return
        self.query_one("#go", Button).disabled = True
        outcomes = await create.run(dispatcher, planned, origin=self.origin, on_step=self._step)
        for outcome in outcomes:
            name = outcome.request.target.name
            vm = outcome.value
            self.progress[name] = (f"done: on {vm.host}, {vm.state.value}" if outcome.ok and vm
                                   else f"{outcome.status}: {outcome.error}")
        self._show_progress()
        self.query_one("#go", Button).disabled = False
        failed = [o for o in outcomes if not o.ok]
        notify(self.app, f"New VM: {len(outcomes) - len(failed)} made, {len(failed)} failed",
               severity="error" if failed else "information")

    def _step(self, name: str, step: str, status: str, detail: str) -> None:
        self.progress[name] = f"{step} {status}" + (f" ({detail})" if status == "failed" else "")
        self._show_progress()

    def _show_progress(self) -> None:
        self.query_one("#progress", Static).update(Text("\n".join(
            f"{name}: {state}" for name, state in sorted(self.progress.items()))))

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(None)


def open_new_vm_dialog(app: Any, context: Context | None, origin: str = "tui") -> None:
    """From the inventory (`+`), the palette or `:create`: the form, unless the dispatcher
    would refuse any create (read-only): then the refusal is audited and shown at once."""
    dispatcher = console_app(app).dispatcher
    probe = Request(CREATE, Target("", "new:", "new VM"), {}, origin=origin)
    if dispatcher is not None and dispatcher.read_only and refuse_up_front(app, [probe]):
        return
    if context is None:
        app.notify("This console was opened without its context's templates", severity="warning")
        return
    app.push_screen(NewVMDialog(context, origin))
