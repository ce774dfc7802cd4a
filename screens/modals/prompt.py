"""Ask for one line of text (a skip reason, a note on a tick, a free note)."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label


class PromptModal(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "dismiss_none", "Cancel", id="prompt-cancel")]

    def __init__(
        self,
        title: str,
        label: str,
        *,
        required: bool = True,
        placeholder: str = "",
        password: bool = False,
        max_length: int | None = None,
    ) -> None:
        super().__init__()
        self._max_length = max_length or 0
        self._title = title
        self._label = label
        self._required = required
        self._placeholder = placeholder
        self._password = password
        """Typed characters are shown masked and the value is kept as typed (a passphrase)."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = escape(self._title)
            yield Label(Text(self._label))
            yield Input(
                placeholder=self._placeholder, id="prompt-input", password=self._password, max_length=self._max_length
            )
            yield Label("", id="prompt-error", classes="error")
            yield Button("OK", variant="primary", id="prompt-ok")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#prompt-ok")
    def _submit(self) -> None:
        value = self.query_one(Input).value
        value = value if self._password else value.strip()
        if self._required and not value:
            self.query_one("#prompt-error", Label).update("This cannot be empty.")
            return
        self.dismiss(value)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
