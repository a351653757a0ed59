"""Start or stop the lab from the console: each step listed as it runs, then an offer to open
the `lab` context (after a start) or to go back to the demo (after a stop).

The lab needs root and a few packages; what is missing is said up front (the same preflight
as `novacron lab up`), nothing is started. The lab runs in a thread: its steps take seconds
to minutes and the console stays live meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from console.lab import preflight

if TYPE_CHECKING:
    from console.lab.lab import Lab

LAB_CONTEXT = "lab"
DEMO_CONTEXT = "demo"

Direction = Literal["up", "down"]
LabFactory = Callable[[], "Lab"]


def default_lab() -> Lab:
    """The operator's lab (/var/lib/novacron-lab), as `novacron lab up` makes it. Imported
    here, on demand: the lab code loads libvirt's and PostgreSQL's clients (0.6 s), which a
    console that never starts a lab should not pay for at start-up."""
    from console.lab.lab import Lab
    return Lab()


class LabDialog(ModalScreen[str | None]):
    """Dismisses with the context to open next ("lab" after a start, "demo" after a stop)
    when the operator asks for it; None otherwise."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="lab.close"),
    ]
    DEFAULT_CSS = """
    LabDialog { align: center middle; }
    LabDialog > Vertical { width: 84; max-width: 98%; height: auto; max-height: 98%;
        border: thick $primary 60%; background: $surface; padding: 0 1; }
    LabDialog .title { text-style: bold; }
    LabDialog #steps { height: auto; max-height: 16; overflow-y: auto; }
    LabDialog #outcome { margin-top: 1; }
    LabDialog #buttons { height: auto; align-horizontal: right; }
    LabDialog Button { margin-left: 2; }
    """

    def __init__(self, direction: Direction, lab: LabFactory,
                 current_context: str = "") -> None:
        super().__init__()
        self.direction = direction
        self._lab = lab
        self._current = current_context
        self.steps: list[str] = []
        self.done = False
        self.failed: str | None = None

    @property
    def next_context(self) -> str | None:
        """Where the offer button leads once done: the lab after a start, the demo after a
        stop that removed the context in use."""
        if self.direction == "up":
            return LAB_CONTEXT
        return DEMO_CONTEXT if self._current.startswith(LAB_CONTEXT) else None

    def compose(self) -> ComposeResult:
        title = "Start the lab" if self.direction == "up" else "Stop the lab"
        with Vertical():
            yield Static(Text(title), classes="title")
            yield Static(Text("Checking this machine…"), id="steps")
            yield Static(Text(""), id="outcome")
            with Horizontal(id="buttons"):
                yield Button("Close", id="close")
                yield Button("Open it", id="open", variant="primary", disabled=True)

    def on_mount(self) -> None:
        self.query_one("#open", Button).display = False
        if problems := preflight.problems():
            self._finish("This machine cannot run the lab yet:\n"
                         + "\n".join(f"  {line}" for line in problems))
            return
        self._run()

    @work(thread=True, exclusive=True, group="lab")
    def _run(self) -> None:
        lab = self._lab()
        try:
            if self.direction == "up":
                lab.up(progress=self._step_from_thread)
            else:
                lab.down(progress=self._step_from_thread)
        except Exception as exc:  # the lab's own errors say what to do; show them all
            self.app.call_from_thread(self._finish, f"{type(exc).__name__}: {exc}")
            return
        self.app.call_from_thread(self._finish, None)

    def _step_from_thread(self, step: str) -> None:
        self.app.call_from_thread(self._step, step)

    def _step(self, step: str) -> None:
        self.steps.append(step)
        if not self.is_mounted:  # closed while the lab goes on
            return
        self.query_one("#steps", Static).update(self._steps_text(running=True))

    def _steps_text(self, *, running: bool) -> Text:
        text = Text()
        for i, step in enumerate(self.steps):
            last = i == len(self.steps) - 1
            mark = "…" if running and last else ("✗" if self.failed and last else "✓")
            text.append(f" {mark} {step}\n", style="bold" if running and last else "")
        text.rstrip()
        return text

    def _finish(self, failed: str | None) -> None:
        self.done, self.failed = True, failed
        if not self.is_mounted:
            return
        self.query_one("#steps", Static).update(self._steps_text(running=False))
        outcome = self.query_one("#outcome", Static)
        if failed is not None:
            verb = "start" if self.direction == "up" else "stop"
            outcome.update(Text(f"Could not {verb} the lab. {failed}\n"
                                "What did start is recorded: `novacron lab down` removes it.",
                                style="bold"))
            return
        opener = self.query_one("#open", Button)
        if self.direction == "up":
            outcome.update(Text("The lab is up: real KVM guests that can live-migrate."))
            opener.label = "Open the lab context"
        else:
            outcome.update(Text("The lab is gone."))
            opener.label = "Back to the demo"
        if self.next_context is not None:
            opener.display, opener.disabled = True, False
            opener.focus()

    @on(Button.Pressed, "#open")
    def _open(self) -> None:
        self.dismiss(self.next_context)

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        if not self.done:
            self.app.notify("The lab keeps going in the background; its steps are not shown "
                            "again (`novacron lab status` tells where it is).", timeout=6)
        self.dismiss(None)


def open_lab_dialog(app: Any, direction: Direction) -> None:
    """The palette's "Start the lab" / "Stop the lab": refused on a read-only console (it
    changes this machine), otherwise the dialog; its answer reopens the console elsewhere."""
    if app.read_only:
        app.notify("Read-only console: the lab is not started or stopped from here "
                   f"(`novacron lab {direction}` does it).", severity="warning", timeout=6)
        return

    def opened(context: str | None) -> None:
        if context is not None:
            app.exit(context)

    app.push_screen(LabDialog(direction, app.lab_factory, app.fleet.context), opened)


class LabCommands(Provider):
    """ "Start the lab" and "Stop the lab" in the command palette."""

    ENTRIES: ClassVar[tuple[tuple[str, Direction, str], ...]] = (
        ("Start the lab", "up", "Real KVM hosts on this machine (root), then open them"),
        ("Stop the lab", "down", "Remove the lab's guests, daemons and context"),
    )

    async def discover(self) -> Hits:
        for title, direction, help_text in self.ENTRIES:
            yield DiscoveryHit(title, partial(open_lab_dialog, self.app, direction),
                               help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, direction, help_text in self.ENTRIES:
            if (score := matcher.match(title)) > 0:
                yield Hit(score, matcher.highlight(title),
                          partial(open_lab_dialog, self.app, direction), help=help_text)
