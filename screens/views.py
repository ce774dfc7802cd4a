"""How the war room uses its room: what the right-hand area shows (output, activity, both) and
the countdown's compact form on a short terminal. A mixin of :class:`screens.war_room.WarRoomScreen`."""

from __future__ import annotations

from textual import events
from textual.screen import Screen

from .panes.activity import ActivityPane
from .panes.checklist import ChecklistPane
from .panes.contacts import ContactsPane
from .panes.countdown import CountdownPane

SHORT_TERMINAL = 32
"""Rows below which the countdown drops its large digits for one line."""
VIEWS = ("-output", "-activity", "-split")
"""What the right-hand area shows (a class on it): the output, the activity, or both stacked."""


class ViewsMixin(Screen[None]):
    def on_resize(self, event: events.Resize) -> None:
        """A short terminal: the countdown gives its digits' room to the checklist and the output."""
        short = event.size.height < SHORT_TERMINAL
        if short != self.has_class("-short"):
            self.set_class(short, "-short")
            self.query_one(CountdownPane).set_compact(short)

    def action_activity(self) -> None:
        """The right-hand area shows the output, the activity, or both, in turn."""
        right = self.query_one("#right")
        now = next((i for i, view in enumerate(VIEWS) if right.has_class(view)), 0)
        right.remove_class(*VIEWS)
        right.add_class(VIEWS[(now + 1) % len(VIEWS)])
        if not right.has_class("-output"):
            self.query_one(ActivityPane).open()

    def action_contacts_up(self) -> None:
        self.query_one(ContactsPane).action_scroll_by(-3)

    def action_contacts_down(self) -> None:
        self.query_one(ContactsPane).action_scroll_by(3)

    def action_activity_filter(self) -> None:
        """Everything, notes only, the selected step's: the activity pane's filter, in turn."""
        if self.query_one("#right").has_class("-output"):
            self.action_activity()
        item = self.query_one(ChecklistPane).selected
        step = item.step if item is not None and item.step else None
        self.query_one(ActivityPane).cycle_filter(step)
