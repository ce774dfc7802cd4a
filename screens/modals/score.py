"""The game-day score at the end of a drill: each phase's actual time against its window."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class ScoreModal(ModalScreen[None]):
    BINDINGS = [Binding("escape,enter,q", "dismiss", "Close", id="score-close")]

    def __init__(self, lines: list[str]) -> None:
        super().__init__()
        self.lines = lines

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -wide") as dialog:
            dialog.border_title = "Game-day score"
            yield Static(Text("\n".join(self.lines)), id="score-lines")
            yield Static("enter closes · q quits", classes="dim")
