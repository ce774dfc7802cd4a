"""The incident header: id, severity, who drives, how many watch, who you are, then the runbook.

Most important first, so an 80-column terminal still shows who drives and how many watch (the
runbook's title is what gets cut). "Watching" counts every attached client but the driver's own
(:func:`console.model.rules.watching`), as the report's Watched names them.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from console.host.session import Session
from console.model.rules import SHARED_VIEWER_NAME


class IncidentHeader(Static):
    def __init__(self, session: Session, **kwargs) -> None:
        super().__init__(**kwargs)
        self._session = session
        self._shown: tuple[str, tuple] | None = None

    def on_mount(self) -> None:
        self.refresh_header()

    def refresh_header(self) -> None:
        s = self._session
        state, plan = s.state, s.plan
        severity = plan.severity[state.severity]
        status = "CLOSED " if state.status == "closed" else ""
        seat = f"driver: {state.driver or 'nobody'}{' (you)' if s.is_driver else ''} · {s.watchers} watching"
        if s.actor.name == SHARED_VIEWER_NAME:
            seat += " · shared view: press a key for your own"
        elif not s.is_driver:
            seat += f" · you: {s.actor.name} ({'observer' if s.actor.role == 'observer' else 'not driving'})"
        header = Text.assemble(
            (f" {status}INC {state.id} ", "bold reverse"),
            "  ",
            (f" {state.severity} {severity['label']} ", "bold white on red" if state.severity == "P0" else "bold"),
            f"  {seat}",
            f"  ·  {plan.runbook['title']} {plan.runbook['version']} · {plan.environment}",
        )
        shown = (header.plain, tuple(header.spans))
        if shown != self._shown:  # rebuilt on every record; most change nothing here
            self._shown = shown
            self.update(header, layout=False)  # one line, as wide as the screen: its size never changes
