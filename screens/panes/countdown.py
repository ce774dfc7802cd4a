"""The RTO countdown: time left in large digits, elapsed, phase window, projected finish."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Digits, Static

from console.host.session import Session
from console.model.clock import iso
from console.model.timeline import format_delta, rto_status

LEVEL_CLASSES = ("-ok", "-amber", "-red", "-breached")


class CountdownPane(Vertical):
    BORDER_TITLE = "RTO"

    def __init__(self, session: Session, **kwargs) -> None:
        super().__init__(**kwargs)
        self._session = session

    def compose(self) -> ComposeResult:
        yield Digits("--:--", id="rto-digits")
        yield Static("", id="rto-facts")

    def on_mount(self) -> None:
        self.refresh_countdown()

    def refresh_countdown(self) -> None:
        session = self._session
        state = session.state
        now = session.clock.now()
        status = rto_status(state, now)
        self.remove_class(*LEVEL_CLASSES)
        self.add_class(f"-{status.level}")
        remaining = format_delta(status.remaining)
        self.query_one(Digits).update(remaining if status.level != "breached" else f"+{remaining.lstrip('-')}")
        rto_min = int(status.rto.total_seconds() // 60)
        self.border_title = f"RTO {rto_min} min · {state.severity}"
        facts = Text()
        label = {"ok": "left", "amber": "left - deadline near", "red": "left - deadline close", "breached": "OVER RTO"}
        facts.append(f"{label[status.level]}\n", "bold")
        facts.append(f"elapsed {format_delta(status.elapsed)} · due {iso(status.deadline)[11:16]}Z\n")
        if status.phase is not None:
            phase = status.phase
            facts.append(f"{phase.title}\n", "bold")
            facts.append(f"window T+{phase.start_minute}–{phase.end_minute}")
            if status.phase_started is not None:
                started = status.phase_started - status.started
                facts.append(f" · began T+{format_delta(started)}")
            facts.append("\n")
        elif state.status == "closed":
            facts.append(f"closed {state.outcome}\n")
        else:
            facts.append("all phases done\n")
        projected = status.projected_finish - status.started
        over = status.projected_finish > status.deadline
        facts.append(
            f"projected T+{format_delta(projected)} " + ("over RTO" if over else "in RTO"),
            "bold red" if over else "green",
        )
        self.query_one("#rto-facts", Static).update(facts)
