"""Contacts from the config and the communication plan as a timeline with due/overdue/sent."""

from __future__ import annotations

import io

from rich.console import Console, Group
from rich.rule import Rule
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from console.host.session import Session
from console.model.timeline import comms_timeline

STATUS_STYLE = {
    "sent": "green",
    "overdue": "bold white on red",
    "due": "bold yellow",
    "upcoming": "dim",
    "conditional": "cyan",
}


class ContactsPane(VerticalScroll):
    """Scrolls (wheel, or focus it and use the arrows), so every contact is reachable on a short
    terminal, on a watcher's screen too."""

    BORDER_TITLE = "Contacts & comms"

    def __init__(self, session: Session, **kwargs) -> None:
        super().__init__(**kwargs)
        self._session = session
        self._shown: tuple | None = None
        self._body: Group = Group()

    def compose(self) -> ComposeResult:
        yield Static("", id="contacts-body")

    def on_mount(self) -> None:
        self.refresh_contacts()

    def text(self) -> str:
        """What the pane shows, as plain text (every line, scrolled into view or not)."""
        out = Console(file=io.StringIO(), width=max(self.size.width - 4, 20), color_system=None)
        out.print(self._body)
        return out.file.getvalue()

    def refresh_contacts(self) -> None:
        """Called every second: the tables are rebuilt (and the screen relaid out) only when an
        item's status moved, which is a few times an incident."""
        session = self._session
        timeline = comms_timeline(session.state, session.clock.now())
        shown = tuple(timeline)
        if shown == self._shown:
            return
        self._shown = shown
        comms = Table.grid(padding=(0, 0), expand=True)  # the spaces are the cells': never squeezed out
        comms.add_column(no_wrap=True)
        comms.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        comms.add_column(no_wrap=True)
        for item in timeline:
            status = item.status
            shown = f"sent {item.sent_at[11:16]} {item.sent_by}" if status == "sent" else status
            comms.add_row(
                Text(f"{item.when} ", "bold"),
                Text(f"{item.channel} → {item.to}: {item.summary}"),
                Text.assemble(" ", (shown, STATUS_STYLE[status])),
            )
        people = Table.grid(padding=(0, 1), expand=True)
        people.add_column(no_wrap=True, style="bold")
        people.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        for contact in session.plan.contacts:
            reach = " · ".join(x for x in (contact.get("name"), contact.get("phone"), contact.get("email")) if x)
            people.add_row(Text(contact["role"]), Text(reach))
        self._body = Group(comms, Rule(style="dim"), people)
        self.query_one("#contacts-body", Static).update(self._body)
