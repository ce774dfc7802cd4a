"""Pick one item from a list, with an optional note (comms sent, close outcome)."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList
from textual.widgets.option_list import Option


class ChoiceModal(ModalScreen[tuple[str, str] | None]):
    """Returns ``(option id, note)`` or None."""

    BINDINGS = [Binding("escape", "dismiss_none", "Cancel", id="choice-cancel")]

    def __init__(
        self,
        title: str,
        options: list[tuple[str, str]],
        *,
        note_label: str = "Note (optional)",
        note_required: str = "",
    ) -> None:
        """``note_required``: what to say when the note is left empty (the choice then waits for it)."""
        super().__init__()
        self._title = title
        self._options = options
        self._note_label = note_label
        self._note_required = note_required

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = escape(self._title)
            yield OptionList(*(Option(Text(text), id=key) for key, text in self._options), id="choice-list")
            yield Label(Text(self._note_label))
            yield Input(id="choice-note")
            yield Label("", id="choice-error", classes="error")
            yield Button("OK", variant="primary", id="choice-ok")

    def on_mount(self) -> None:
        self.query_one(OptionList).highlighted = 0

    @on(OptionList.OptionSelected)
    def _selected(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#choice-ok")
    def _submit(self) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is None:
            return
        option = options.get_option_at_index(options.highlighted)
        note = self.query_one(Input).value.strip()
        if self._note_required and not note:
            self.query_one("#choice-error", Label).update(Text(self._note_required))
            self.query_one(Input).focus()
            return
        self.dismiss((option.id or "", note))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
