"""The incident header: id, runbook, severity, who drives, how many watch."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from console.host.session import Session


class IncidentHeader(Static):
    def __init__(self, session: Session, **kwargs) -> None:
        super().__init__(**kwargs)
        self._session = session

    def on_mount(self) -> None:
        self.refresh_header()

    def refresh_header(self) -> None:
        s = self._session
        state, plan = s.state, s.plan
        severity = plan.severity[state.severity]
        driver = state.driver or "nobody"
        you = " (you)" if state.driver == s.actor.name else ""
        role = "driver" if s.is_driver else ("observer" if s.actor.role == "observer" else "not driving")
        status = "CLOSED " if state.status == "closed" else ""
        self.update(
            Text.assemble(
                (f" {status}INC {state.id} ", "bold reverse"),
                f"  {plan.runbook['title']} {plan.runbook['version']} · {plan.environment}  ",
                (f" {state.severity} {severity['label']} ", "bold white on red" if state.severity == "P0" else "bold"),
                f"  driver: {driver}{you}  ·  {s.watchers} watching  ·  you: {s.actor.name} ({role})",
            )
        )
