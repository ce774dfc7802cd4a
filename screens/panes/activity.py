"""The shared timeline: what happened and what people said, newest at the bottom.

Each journal record becomes at most one line (:mod:`console.model.activity`, the formatting the
report's Activity section uses too), appended to a :class:`RichLog` as it arrives: no timer, and
no re-render of the feed per record, so a watcher's session pays one short line per record. Only a
change of filter rewrites the (bounded) feed.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.containers import Vertical

from console.host.session import Session
from console.model.activity import FILTERS, ActivityEntry, ActivityFeed, matches

KEPT = 5000
"""Entries kept for a change of filter (and lines in the log): a long incident stays bounded."""

STYLE = {
    "incident": "bold",
    "step": "cyan",
    "step-failed": "bold red",
    "check": "green",
    "note": "bold yellow",
    "comms": "magenta",
    "comms-failed": "bold red",
    "seat": "bold blue",
    "presence": "dim",
    "warning": "yellow",
    "breach": "bold white on red",
    "refusal": "red",
    "decision": "bold cyan",
}


def entry_text(entry: ActivityEntry) -> Text:
    """``T+M:SS actor text``, coloured by kind; an observer's name says so (their notes stand out)."""
    return Text.assemble(
        (entry.t, "dim"), " ", (entry.who, "bold"), " ", (entry.text, STYLE.get(entry.kind, "")), no_wrap=False
    )


def entry_row(entry: ActivityEntry) -> Table:
    """The line as the log shows it: the time in its column, who and what wrapped beside it."""
    row = Table.grid(padding=(0, 1), expand=True)
    row.add_column(no_wrap=True, style="dim")
    row.add_column(ratio=1, overflow="fold")
    row.add_row(entry.t, Text.assemble((entry.who, "bold"), " ", (entry.text, STYLE.get(entry.kind, ""))))
    return row


class ActivityPane(Vertical):
    BORDER_TITLE = "Activity"

    def __init__(self, session: Session, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._session = session
        self._feed = ActivityFeed()
        self._entries: deque[ActivityEntry] = deque(maxlen=KEPT)
        self._seq = 0
        self.shown = "all"
        self._log: Any = None
        """Its :class:`~textual.widgets.RichLog`, built when the pane is first shown (:meth:`open`)."""
        self.step: str | None = None

    def on_mount(self) -> None:
        self.border_subtitle = "v view · / filter"
        self._title()
        for record in self._session.records:
            self.add(record)

    def open(self) -> None:
        """Shown for the first time: its log is built now, so a watcher who never looks at the
        activity pays for the entries alone (a few per record), not for a log widget."""
        if self._log is None:
            from textual.widgets import RichLog  # with rich.pretty and attr: only for who looks

            self._log = RichLog(
                id="activity-log", wrap=True, markup=False, auto_scroll=True, max_lines=KEPT, min_width=20
            )
            self.mount(self._log)
            self._refill()

    def add(self, record: dict[str, Any]) -> None:
        """One record in: a line appended if the filter keeps it (records seen already are skipped)."""
        if record["seq"] <= self._seq:
            return
        self._seq = record["seq"]
        entry = self._feed.add(record)
        if entry is None:
            return
        self._entries.append(entry)
        if self._log is not None and matches(entry, self.shown, self.step):
            self._log.write(entry_row(entry))

    def lines(self) -> list[str]:
        """The plain lines the filter keeps (what the log shows, for a reader and the tests)."""
        return [entry_text(e).plain for e in self._entries if matches(e, self.shown, self.step)]

    def cycle_filter(self, step: str | None) -> str:
        """all → notes → the selected step → all; returns the filter now shown."""
        self.shown = FILTERS[(FILTERS.index(self.shown) + 1) % len(FILTERS)]
        if self.shown == "step" and not step:
            self.shown = "all"
        self.step = step
        self._refill()
        return self.shown

    def follow_step(self, step: str | None) -> None:
        """The selection moved: a feed filtered to one step follows it."""
        if self.shown == "step" and step and step != self.step:
            self.step = step
            self._refill()

    def _refill(self) -> None:
        self._title()
        if self._log is None:
            return
        self._log.clear()
        for entry in self._entries:
            if matches(entry, self.shown, self.step):
                self._log.write(entry_row(entry))

    def _title(self) -> None:
        label = {"all": "all", "notes": "notes only", "step": f"step {self.step}"}[self.shown]
        title = f"Activity · {label}"
        if self.border_title != title:
            self.border_title = title
