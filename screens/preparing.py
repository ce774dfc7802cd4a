"""The first frame of ``warroom run`` and ``warroom drill``: painted before the slow part.

Loading the step kinds (asyncssh, pymysql, the Docker SDK, httpx), building the drill's sandbox
and the preflight gate's logins take a second or more; this screen is on the terminal before any
of it starts, says what is being done, and quits on escape like the dialog that follows it.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Static


class PreparingScreen(Screen[None]):
    BINDINGS = [Binding("escape", "quit_preparing", "Quit", id="preparing-quit")]

    def __init__(self, title: str) -> None:
        super().__init__()
        self._title = title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -wide"):
            yield Static(self._title, id="preparing-title", markup=False)
            yield Static("", id="preparing-stage", markup=False)

    def stage(self, text: str) -> None:
        """What is being done now (the step kinds, the sandbox, the gate)."""
        self.query_one("#preparing-stage", Static).update(f"… {text}")

    def action_quit_preparing(self) -> None:
        self.app.exit(1)
