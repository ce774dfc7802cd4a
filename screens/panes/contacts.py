"""Contacts from the config and the communication plan as a timeline with due/overdue/sent.

On a short terminal the tables are taller than the pane: it scrolls (the wheel over it, or ``[``
and ``]``, the screen's keys), on a watcher's screen too, and says so in its border
(``↓ 3 more``). It stays one unfocusable :class:`Static` showing a window of its rendered lines:
a focusable pane, or a scrolling container (``VerticalScroll``, ``ScrollView``), costs every
session about 1 MB more (``benchmarks/ssh_sessions.py``, PSS per session).
"""

from __future__ import annotations

from rich.console import Group
from rich.rule import Rule
from rich.segment import Segment, Segments
from rich.table import Table
from rich.text import Text
from textual import events
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
        self._body: Group = Group()
        self._lines: list[list[Segment]] = []
        self._window: tuple[int, int, int] | None = None
        self.offset_y = 0
        """The first of the rendered lines in view."""

    def on_mount(self) -> None:
        self.refresh_contacts()

    def on_resize(self) -> None:
        self._render_lines()

    def text(self) -> str:
        """What the pane holds, as plain text (every line, scrolled into view or not)."""
        return "\n".join("".join(s.text for s in line).rstrip() for line in self._lines)

    def refresh_contacts(self) -> None:
        """Called every second: the tables are rebuilt (and the pane repainted) only when an
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
        self._render_lines()

    # ----- scrolling ---------------------------------------------------------------------------
    def action_scroll_by(self, lines: int) -> None:
        self.offset_y += lines
        self._show_window()

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self.action_scroll_by(1)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self.action_scroll_by(-1)

    def _render_lines(self) -> None:
        width = self.content_region.width
        if width <= 0:
            return
        console = self.app.console
        self._lines = console.render_lines(self._body, console.options.update_width(width), pad=False)
        self._window = None
        self._show_window()

    def _show_window(self) -> None:
        """The lines that fit, from ``offset_y``; the border says what is hidden below."""
        height = max(self.content_region.height, 1)
        self.offset_y = max(0, min(self.offset_y, len(self._lines) - height))
        window = (self.offset_y, height, len(self._lines))
        if window == self._window:
            return
        self._window = window
        shown = self._lines[self.offset_y : self.offset_y + height]
        below = len(self._lines) - self.offset_y - len(shown)
        hint = " · ".join(
            x for x in (f"↑ {self.offset_y}" if self.offset_y else "", f"↓ {below} more" if below else "") if x
        )
        if self.border_subtitle != hint:
            self.border_subtitle = hint
        segments = [segment for line in shown for segment in (*line, Segment.line())][:-1]
        self.update(Segments(segments), layout=False)  # the pane's height is the row's, whatever it shows
