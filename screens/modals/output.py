"""The full spooled output of one host for one step attempt."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Label, Log

from console.model.sanitize import neutralise_lines
from console.model.spool import tail_lines

MAX_BYTES = 32 * 1024 * 1024


class OutputModal(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,o", "dismiss", "Close", id="output-close")]

    def __init__(self, path: Path, title: str) -> None:
        super().__init__()
        self._path = path
        self._title = title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -wide") as dialog:
            dialog.border_title = escape(self._title)
            yield Label("", id="output-info")
            yield Log(id="output-log", auto_scroll=False)

    def on_mount(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def _load(self) -> None:
        try:
            raw, size = tail_lines(self._path, MAX_BYTES)
        except OSError as exc:
            self.app.call_from_thread(self._show, f"cannot read {self._path}: {exc.strerror}", [])
            return
        lines = neutralise_lines(raw) if raw else []
        shown = "last 32 MiB of " if size > MAX_BYTES else ""
        info = f"{shown}{self._path} · {size:,} bytes · {len(lines):,} lines"
        self.app.call_from_thread(self._show, info, lines)

    def _show(self, info: str, lines: list[str]) -> None:
        self.query_one("#output-info", Label).update(Text(info))
        self.query_one(Log).write_lines(lines)
