"""Every binding with its current key (after the config's keymap)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Static

from console.model.keymap import ACTING


class HelpModal(ModalScreen[None]):
    """Installed once and shown again: building a screen costs ~25 ms, too much for a key press."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", id="help-close")]

    def __init__(self, rows: list[tuple[str, str, str, bool]]) -> None:
        """``rows``: (binding id, keys, description, enabled now)."""
        super().__init__()
        self.rows = rows

    def show_rows(self, rows: list[tuple[str, str, str, bool]]) -> None:
        self.rows = rows
        if self.is_mounted:
            self.query_one("#help-table", Static).update(self._table())

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = escape("Keys (remap with [keymap] in the config)")
            yield Static(self._table(), id="help-table")
            yield Static("ctrl+p opens the command palette with the same actions · escape closes", classes="dim")

    def _table(self) -> Table:
        table = Table(box=None, expand=True)
        table.add_column("key", style="bold")
        table.add_column("action")
        table.add_column("id", style="dim")
        for binding_id, keys, description, enabled in self.rows:
            note = "" if enabled else " (not available now)"
            role = " · driver only" if binding_id in ACTING else ""
            table.add_row(Text(keys), Text(f"{description}{role}{note}"), Text(binding_id))
        return table
