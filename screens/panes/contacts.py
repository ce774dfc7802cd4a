"""Contacts from the config and the communication plan as a timeline with due/overdue/sent.

A line-API widget (:class:`ScrollView`, as Textual's ``Log`` is): the tables are rendered to lines
once per change and scrolled over, so every contact is reachable on a short terminal (the wheel,
or focus the pane and use the arrows), on a watcher's screen too, without the container and child
widget a ``VerticalScroll`` would add to every session (about 1.2 MB each:
``benchmarks/ssh_sessions.py``).
"""

from __future__ import annotations

from rich.console import Group
from rich.rule import Rule
from rich.table import Table
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from console.host.session import Session
from console.model.timeline import comms_timeline

STATUS_STYLE = {
    "sent": "green",
    "overdue": "bold white on red",
    "due": "bold yellow",
    "upcoming": "dim",
    "conditional": "cyan",
}


class ContactsPane(ScrollView):
    BORDER_TITLE = "Contacts & comms"

    def __init__(self, session: Session, **kwargs) -> None:
        super().__init__(**kwargs)
        self._session = session
        self._shown: tuple | None = None
        self._body: Group = Group()
        self._lines: list[Strip] = []
        self._width = 0

    def on_mount(self) -> None:
        self.refresh_contacts()

    def on_resize(self) -> None:
        self._render_lines()

    def text(self) -> str:
        """What the pane holds, as plain text (every line, scrolled into view or not)."""
        return "\n".join(strip.text.rstrip() for strip in self._lines)

    def refresh_contacts(self) -> None:
        """Called every second: the tables are rebuilt (and the pane repainted, never the screen
        laid out again) only when an item's status moved, which is a few times an incident."""
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
        self._render_lines()

    def _render_lines(self) -> None:
        width = self.size.width
        if width <= 0:
            return
        console = self.app.console
        lines = console.render_lines(self._body, console.options.update_width(width), pad=True)
        self._lines = [Strip(line, width) for line in lines]
        self.virtual_size = Size(width, len(self._lines))
        self.refresh()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = y + scroll_y
        if index >= len(self._lines):
            return Strip.blank(self.size.width, self.rich_style)
        return self._lines[index].crop(scroll_x, scroll_x + self.size.width).apply_style(self.rich_style)
