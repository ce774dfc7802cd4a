"""Confirm a destructive step: exactly what runs on which hosts, and the word to type."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from actions.base import PlannedCommand
from console.model.plan import PlannedStep
from console.model.sanitize import neutralise


class ConfirmStepModal(ModalScreen[str | None]):
    """Returns the typed confirmation word, or None when cancelled."""

    BINDINGS = [
        Binding("escape", "dismiss_none", "Cancel", id="confirm-cancel"),
        Binding("pageup", "scroll_body(-1)", "Scroll up", id="confirm-page-up"),
        Binding("pagedown", "scroll_body(1)", "Scroll down", id="confirm-page-down"),
    ]

    def __init__(
        self,
        step: PlannedStep,
        commands: list[PlannedCommand],
        *,
        retry: bool = False,
        preview: Callable[[], Awaitable[dict[str, str]]] | None = None,
    ) -> None:
        super().__init__()
        self._step = step
        self._commands = commands
        self._retry = retry
        self._preview = preview

    def compose(self) -> ComposeResult:
        """What runs scrolls (all of it, wrapped: nothing is cut); the word to type stays in view."""
        step = self._step
        with Vertical(classes="dialog -danger", id="confirm-dialog") as dialog:
            dialog.border_title = f"{'Retry' if self._retry else 'Run'} destructive step"
            with VerticalScroll(id="confirm-body"):
                yield Static(Text.assemble(("⚠ ", "bold yellow"), (step.title, "bold"), f"  ({step.id})"))
                for command in self._commands:
                    yield Static(
                        Text.assemble((f"{command.host}$ ", "bold"), neutralise(command.text)),
                        classes="confirm-command",
                    )
                if step.note:
                    yield Static(Text(step.note, "italic"), id="confirm-note")
                if self._preview is not None:
                    yield Static(Text("asking the hosts…", "dim"), id="confirm-preview")
            with Vertical(id="confirm-answer"):
                yield Static(
                    Text.assemble(
                        "Type ", (step.confirm, "bold reverse"), " to run it on ", (", ".join(step.hosts), "bold"), ":"
                    ),
                    id="confirm-word",
                )
                yield Input(placeholder=step.confirm, id="confirm-input")
                yield Static("", id="confirm-error", classes="error")
                with Horizontal(id="confirm-buttons"):
                    yield Button("Run", variant="error", compact=True, id="confirm-ok")
                    yield Static(Text("PgUp/PgDn scroll what runs · Esc cancels", "dim"), id="confirm-hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        if self._preview is not None:
            self._load_preview()

    @work(exclusive=True, exit_on_error=False)
    async def _load_preview(self) -> None:
        """Live facts from the hosts (e.g. HEAD now and after), read-only, shown before typing."""
        assert self._preview is not None
        facts = await self._preview()
        text = Text()
        for host, fact in facts.items():
            text.append(f"{host}: ", "bold")
            text.append(f"{neutralise(fact)}\n")  # what the hosts said: their control sequences made visible
        self.query_one("#confirm-preview", Static).update(text or Text("(nothing to preview)", "dim"))

    @on(Input.Submitted)
    @on(Button.Pressed, "#confirm-ok")
    def _submit(self) -> None:
        typed = self.query_one(Input).value.strip()
        if typed != self._step.confirm:
            self.query_one("#confirm-error", Static).update(Text(f"Type exactly {self._step.confirm!r} to go on."))
            return
        self.dismiss(typed)

    def action_scroll_body(self, pages: int) -> None:
        """Page through what runs while the typed word keeps the focus."""
        body = self.query_one("#confirm-body", VerticalScroll)
        body.scroll_to(y=body.scroll_y + pages * max(1, body.scrollable_content_region.height - 1), animate=False)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
