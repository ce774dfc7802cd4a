"""The RTO countdown: time left in large digits, elapsed, phase window, projected finish.

The projection says what it stands on (``from 5 drills``, ``from windows``) and the range seen
(fastest to slowest): :mod:`console.model.projection`. On a short terminal (``compact``) the
digits give way to one line, so the checklist and the output keep their room."""

from __future__ import annotations

from datetime import timedelta

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Digits, Static

from console.host.session import Session
from console.model.clock import iso
from console.model.timeline import format_delta, rto_status

LEVEL_CLASSES = ("-ok", "-amber", "-red", "-breached")
LEVEL_STYLE = {"ok": "bold green", "amber": "bold yellow", "red": "bold red", "breached": "bold white on red"}


class CountdownPane(Vertical):
    """Refreshed every second in every session: only what changed is touched. A class change
    re-matches the pane's CSS, a title set repaints it and a Static update relayouts the screen
    (benchmarks/ssh_sessions.py --profile), whether or not anything differs."""

    BORDER_TITLE = "RTO"

    def __init__(self, session: Session, **kwargs) -> None:
        super().__init__(**kwargs)
        self._session = session
        self._digits = ""
        self._facts: tuple[str, tuple] | None = None
        self.compact = False
        """A short terminal: no large digits, the time left on the first line instead."""

    def set_compact(self, compact: bool) -> None:
        if compact != self.compact:
            self.compact = compact
            self.query_one(Digits).display = not compact
            self.refresh_countdown()

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
        level = f"-{status.level}"
        if not self.has_class(level):
            self.remove_class(*LEVEL_CLASSES)
            self.add_class(level)
        remaining = format_delta(status.remaining)
        digits = remaining if status.level != "breached" else f"+{remaining.lstrip('-')}"
        if digits != self._digits:
            self._digits = digits
            self.query_one(Digits).update(digits)
        rto_min = int(status.rto.total_seconds() // 60)
        title = f"RTO {rto_min} min · {state.severity}"
        if self.border_title != title:
            self.border_title = title
        facts = Text(no_wrap=True, overflow="ellipsis")
        label = {"ok": "left", "amber": "left - deadline near", "red": "left - deadline close", "breached": "OVER RTO"}
        if self.compact:
            facts.append(f"{digits} ", LEVEL_STYLE[status.level])
        facts.append(f"{label[status.level]}\n", "bold")
        facts.append(f"elapsed {format_delta(status.elapsed)} · due {iso(status.deadline)[11:16]}Z\n")
        if status.phase is not None:
            phase = status.phase
            window = f"T+{phase.start_minute}–{phase.end_minute}"
            if self.compact:
                facts.append(f"{phase.title}", "bold")
                facts.append(f" · {window}\n")
            else:
                facts.append(f"{phase.title}\n", "bold")
                facts.append(f"window {window}")
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
        facts.append(f"\n{status.basis}", "dim")
        if status.projected_fastest is not None and status.projected_slowest is not None:
            fastest, slowest = status.projected_fastest - status.started, status.projected_slowest - status.started
            if slowest - fastest >= timedelta(seconds=1):
                facts.append(f" · {format_delta(fastest)}–{format_delta(slowest)}", "dim")
        self._show_facts(facts)

    def _show_facts(self, facts: Text) -> None:
        """Same text: nothing to do; same number of lines: a repaint, no layout."""
        shown = (facts.plain, tuple(facts.spans))
        if shown == self._facts:
            return
        same_height = self._facts is not None and self._facts[0].count("\n") == facts.plain.count("\n")
        self._facts = shown
        self.query_one("#rto-facts", Static).update(facts, layout=not same_height)
