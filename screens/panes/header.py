"""The incident header: id, severity, who drives, how many watch, who you are, then the runbook.

Most important first, and shortened to the terminal's width rather than cut: the runbook goes
first, then the severity's label and the words shrink (``driver:`` → ``drv``, ``observer`` →
``obs``), so an 80-column terminal still shows who drives, how many watch and who you are.
"Watching" counts every attached client but the driver's own
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

    def on_resize(self) -> None:
        self.refresh_header()

    def refresh_header(self) -> None:
        width = self.size.width or 200
        header = next((h for h in self._variants() if h.cell_len <= width), None)
        if header is None:
            header = self._variants()[-1]
            header.truncate(width, overflow="ellipsis")
        shown = (header.plain, tuple(header.spans))
        if shown != self._shown:  # rebuilt on every record; most change nothing here
            self._shown = shown
            self.update(header, layout=False)  # one line, as wide as the screen: its size never changes

    def _variants(self) -> list[Text]:
        """The header from its longest form to its shortest."""
        s = self._session
        state, plan = s.state, s.plan
        status = "CLOSED " if state.status == "closed" else ""
        role = "observer" if s.actor.role == "observer" else "not driving"
        short_role = "obs" if s.actor.role == "observer" else "not driving"
        driver = f"{state.driver or 'nobody'}{' (you)' if s.is_driver else ''}"
        mine = f" · you {s.actor.name} ({short_role})"
        you = ("", "", "") if s.is_driver else (f" · you: {s.actor.name} ({role})", mine, mine)
        if s.actor.name == SHARED_VIEWER_NAME:  # one console copied to several observers (shared views)
            you = (" · shared view: press a key for your own", " · shared view: a key for your own", " · shared")
        seats = [
            f"driver: {driver} · {s.watchers} watching{you[0]}",
            f"drv {driver} · {s.watchers} watching{you[1]}",
            f"drv {driver} · {s.watchers} watch{you[2]}",
        ]
        label = plan.severity[state.severity]["label"]
        style = "bold white on red" if state.severity == "P0" else "bold"
        runbook = f"  ·  {plan.runbook['title']} {plan.runbook['version']} · {plan.environment}"
        forms = [(f" {state.severity} {label} ", seats[0], runbook), (f" {state.severity} {label} ", seats[0], "")]
        forms += [(f" {state.severity} ", seat, "") for seat in seats]
        return [
            Text.assemble((f" {status}INC {state.id} ", "bold reverse"), " ", (sev, style), f" {seat}", rest)
            for sev, seat, rest in forms
        ]
