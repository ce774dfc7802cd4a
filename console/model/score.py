"""The game-day score: each phase's actual start, end and duration against its time window.

A pure function of the incident state (so of the journal): the drill prints it at the end, the
TUI can show it live, the report can include it. Times are seconds from T+0, the moment the
incident was opened. A phase's activity is every attempt of its automated steps (start to
finish) and every tick of its manual checks.

A phase is *within window* when all of its steps are done (succeeded, skipped, or every check
ticked pass / not applicable) and its last activity ended before the window closed; starting
before the window opens is no fault (a fast team is early).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from console.model import rules
from console.model.clock import parse_iso
from console.model.plan import PlannedPhase
from console.model.state import IncidentState


@dataclass(frozen=True)
class PhaseScore:
    number: int
    id: str
    title: str
    window: tuple[int, int]
    """The planned window, minutes from T+0."""
    start: float | None
    """Seconds from T+0 of the phase's first activity; None if nothing ran yet."""
    end: float | None
    """Seconds from T+0 of its last activity (while it runs: so far)."""
    done: int
    total: int
    failed: tuple[str, ...]
    """Steps of the phase whose latest outcome is a failure (failed, cancelled, timed out, ...)."""
    verdict: str
    """``within window``, ``over window by M:SS``, ``failed: STEP``, ``in progress``, ``not started``."""

    @property
    def duration(self) -> float | None:
        if self.start is None or self.end is None:
            return None
        return self.end - self.start

    @property
    def complete(self) -> bool:
        return self.done == self.total

    @property
    def within_window(self) -> bool:
        return self.verdict == "within window"


def phase_scores(state: IncidentState) -> list[PhaseScore]:
    """Score every phase of the incident's plan."""
    if state.plan is None or not state.opened_at:
        return []
    t0 = parse_iso(state.opened_at)

    def offset(ts: str) -> float:
        return (parse_iso(ts) - t0).total_seconds()

    return [_score(state, number, phase, offset) for number, phase in enumerate(state.plan.phases, start=1)]


def _score(state: IncidentState, number: int, phase: PlannedPhase, offset: Callable[[str], float]) -> PhaseScore:
    assert state.plan is not None
    moments: list[float] = []
    done = 0
    failed: list[str] = []
    for step_id in phase.steps:
        planned = state.plan.steps[step_id]
        step = state.steps[step_id]
        for attempt in step.attempts:
            moments.append(offset(attempt.started_at))
            if attempt.finished_at:
                moments.append(offset(attempt.finished_at))
        moments.extend(offset(tick.at) for (s, _), tick in state.ticks.items() if s == step_id)
        status = step.status if planned.automated else state.step_status(step_id)
        if rules.settled(status):
            done += 1
        elif rules.retryable(status):
            failed.append(step_id)
    start = min(moments) if moments else None
    end = max(moments) if moments else None
    total = len(phase.steps)
    window_end = phase.end_minute * 60
    if failed:
        verdict = f"failed: {', '.join(failed)}"
    elif done == total and (end is None or end <= window_end):
        verdict = "within window" if total else "no steps"
    elif done == total:
        verdict = f"over window by {clock(end - window_end)}"
    elif start is None and done == 0:
        verdict = "not started"
    else:
        verdict = "in progress"
    return PhaseScore(
        number=number,
        id=phase.id,
        title=phase.title,
        window=(phase.start_minute, phase.end_minute),
        start=start,
        end=end,
        done=done,
        total=total,
        failed=tuple(failed),
        verdict=verdict,
    )


def clock(seconds: float, *, tenths: bool = False) -> str:
    """``M:SS`` (or ``H:MM:SS``) of a non-negative duration; ``M:SS.s`` with ``tenths``."""
    scaled = round(max(0.0, seconds) * 10) if tenths else int(max(0.0, seconds)) * 10
    whole, tenth = divmod(scaled, 10)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
    return f"{text}.{tenth}" if tenths else text


def span(seconds: float) -> str:
    """A duration in words: ``0.4 s``, ``12 s``, ``3 min 05 s``."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes} min {secs:02d} s"


def render_score(state: IncidentState, scores: list[PhaseScore] | None = None) -> list[str]:
    """The score as plain lines (the drill prints them; a report can include them)."""
    scores = phase_scores(state) if scores is None else scores
    if not scores or state.plan is None:
        return []
    ends = [s.end for s in scores if s.end is not None]
    tenths = bool(ends) and max(ends) < 60  # a drill on a sandbox takes seconds: show them finer
    title_width = max(len(f"Phase {s.number} {s.title}") for s in scores)
    window_width = max(len(f"window T+{s.window[0]}–T+{s.window[1]}") for s in scores)
    lines = [f"game-day score, incident {state.id}:"]
    rows: list[tuple[str, str, str, str]] = []
    for s in scores:
        name = f"Phase {s.number} {s.title}".ljust(title_width)
        window = f"window T+{s.window[0]}–T+{s.window[1]}".ljust(window_width)
        if s.start is None:
            actual = "actual -"
        else:
            end = "…" if s.end is None else f"T+{clock(s.end, tenths=tenths)}"
            actual = f"actual T+{clock(s.start, tenths=tenths)}–{end} ({span(s.duration or 0.0)})"
        rows.append((name, window, actual, f"{s.verdict}  [{s.done}/{s.total} steps]"))
    actual_width = max(len(row[2]) for row in rows)
    lines += [f"  {name}  {window}  {actual.ljust(actual_width)}  {verdict}" for name, window, actual, verdict in rows]
    lines.append("  " + _total(state, scores, tenths))
    return lines


def _total(state: IncidentState, scores: list[PhaseScore], tenths: bool) -> str:
    assert state.plan is not None
    severity = state.plan.severity.get(state.severity, {})
    rto = severity.get("rto_minutes")
    ends = [s.end for s in scores if s.end is not None]
    finish = max(ends) if ends else 0.0
    if state.closed_at:
        finish = max(finish, (parse_iso(state.closed_at) - parse_iso(state.opened_at)).total_seconds())
    within = sum(1 for s in scores if s.within_window)
    text = f"finished T+{clock(finish, tenths=tenths)}, {within} of {len(scores)} phases within their window"
    if rto is not None:
        if finish > rto * 60:
            verdict = f"missed by {clock(finish - rto * 60)}"
        elif all(s.complete for s in scores):
            verdict = f"met with {clock(rto * 60 - finish)} to spare"
        else:
            verdict = "not met yet (the rollback is incomplete)"
        text += f"; RTO {rto} min ({state.severity}): {verdict}"
    return text
