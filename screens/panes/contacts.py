"""Contacts from the config and the communication plan as a timeline with due/overdue/sent."""

from __future__ import annotations

from rich.console import Group
from rich.rule import Rule
from rich.table import Table
from rich.text import Text
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


class ContactsPane(Static):
    BORDER_TITLE = "Contacts & comms"

    def __init__(self, session: Session, **kwargs) -> None:
        super().__init__(**kwargs)
        self._session = session
        self._shown: tuple | None = None

    def on_mount(self) -> None:
        self.refresh_contacts()

    def refresh_contacts(self) -> None:
        """Called every second: the tables are rebuilt (and the screen relaid out) only when an
        item's status moved, which is a few times an incident."""
        session = self._session
        timeline = comms_timeline(session.state, session.clock.now())
        shown = tuple(timeline)
        if shown == self._shown:
            return
        self._shown = shown
        comms = Table.grid(padding=(0, 1), expand=True)
        comms.add_column(no_wrap=True)
        comms.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        comms.add_column(no_wrap=True)
        for item in timeline:
            status = item.status
            shown = f"sent {item.sent_at[11:16]} {item.sent_by}" if status == "sent" else status
            comms.add_row(
                Text(item.when, "bold"),
                Text(f"{item.channel} → {item.to}: {item.summary}"),
                Text(shown, STATUS_STYLE[status]),
            )
        people = Table.grid(padding=(0, 1), expand=True)
        people.add_column(no_wrap=True, style="bold")
        people.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        for contact in session.plan.contacts:
            reach = " · ".join(x for x in (contact.get("name"), contact.get("phone"), contact.get("email")) if x)
            people.add_row(Text(contact["role"]), Text(reach))
        self.update(Group(comms, Rule(style="dim"), people))
