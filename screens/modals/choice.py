"""Pick one item from a list, with an optional note (comms sent, close outcome)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList
from textual.widgets.option_list import Option


class ChoiceModal(ModalScreen[tuple[str, str] | None]):
    """Returns ``(option id, note)`` or None."""

    BINDINGS = [Binding("escape", "dismiss_none", "Cancel", id="choice-cancel")]

    def __init__(self, title: str, options: list[tuple[str, str]], *, note_label: str = "Note (optional)") -> None:
        super().__init__()
        self._title = title
        self._options = options
        self._note_label = note_label

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = self._title
            yield OptionList(*(Option(text, id=key) for key, text in self._options), id="choice-list")
            yield Label(self._note_label)
            yield Input(id="choice-note")
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
        self.dismiss((option.id or "", self.query_one(Input).value.strip()))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
