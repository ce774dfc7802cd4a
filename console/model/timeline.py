"""Time facts derived from incident state: RTO countdown, phase windows, comms due times.

Pure functions of the state and a moment, so the UI, observers and tests compute the same thing
from the same journal and a (possibly frozen) clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from console.model.clock import parse_iso
from console.model.plan import PlannedPhase
from console.model.projection import remaining as work_left
from console.model.state import TERMINAL, IncidentState

AMBER_SHARE = 1 / 3
RED_SHARE = 0.10


@dataclass(frozen=True)
class RtoStatus:
    rto: timedelta
    started: datetime
    deadline: datetime
    elapsed: timedelta
    remaining: timedelta
    level: str  # ok | amber | red | breached
    phase: PlannedPhase | None
    phase_started: datetime | None
    projected_finish: datetime
    done: bool
    projected_fastest: datetime | None = None
    projected_slowest: datetime | None = None
    basis: str = "from windows"
    """Where the projection comes from (:func:`console.model.projection.basis`)."""


def _done(state: IncidentState, step_id: str) -> bool:
    return state.step_status(step_id) in TERMINAL


def current_phase(state: IncidentState) -> PlannedPhase | None:
    """The phase holding the running step, else the first phase with work left."""
    assert state.plan is not None
    running = state.running
    if running:
        return state.plan.phase_of(running)
    return next((p for p in state.plan.phases if not all(_done(state, s) for s in p.steps)), None)


def phase_actual(state: IncidentState, phase: PlannedPhase) -> tuple[datetime | None, datetime | None]:
    """When the phase's first step started and (if all are done) when its last one ended."""
    starts, ends = [], []
    for step_id in phase.steps:
        step = state.steps[step_id]
        for attempt in step.attempts:
            starts.append(parse_iso(attempt.started_at))
            if attempt.finished_at:
                ends.append(parse_iso(attempt.finished_at))
        for tick in state.ticks.values():
            if tick.step == step_id:
                starts.append(parse_iso(tick.at))
                ends.append(parse_iso(tick.at))
    start = min(starts) if starts else None
    finished = all(_done(state, s) for s in phase.steps)
    return start, (max(ends) if finished and ends else None)


def rto_status(state: IncidentState, now: datetime) -> RtoStatus:
    assert state.plan is not None
    rto = timedelta(minutes=state.plan.severity[state.severity]["rto_minutes"])
    started = parse_iso(state.detected_at or state.opened_at)
    deadline = started + rto
    end = parse_iso(state.closed_at) if state.closed_at else now
    elapsed = end - started
    remaining = deadline - end
    if remaining <= timedelta(0):
        level = "breached"
    elif remaining <= rto * RED_SHARE:
        level = "red"
    elif remaining <= rto * AMBER_SHARE:
        level = "amber"
    else:
        level = "ok"
    phase = current_phase(state)
    phase_started = phase_actual(state, phase)[0] if phase else None
    left = work_left(state, end)
    return RtoStatus(
        rto,
        started,
        deadline,
        elapsed,
        remaining,
        level,
        phase,
        phase_started,
        end + left.expected,
        phase is None or state.status == "closed",
        end + left.fastest,
        end + left.slowest,
        left.basis,
    )


@dataclass(frozen=True)
class CommsItem:
    id: str
    when: str
    channel: str
    to: str
    summary: str
    status: str  # sent | overdue | due | upcoming | conditional
    due_at: datetime | None
    sent_at: str = ""
    sent_by: str = ""


DUE_SOON = timedelta(minutes=2)


def comms_timeline(state: IncidentState, now: datetime) -> list[CommsItem]:
    assert state.plan is not None
    started = parse_iso(state.detected_at or state.opened_at)
    items = []
    for comm in state.plan.comms:
        sent = state.comms.get(comm["id"])
        due_at = started + timedelta(minutes=comm["at_minutes"]) if comm["at_minutes"] is not None else None
        if sent:
            status = "sent"
        elif due_at is None:
            status = "conditional"
        elif now >= due_at:
            status = "overdue" if now - due_at > DUE_SOON else "due"
        else:
            status = "due" if due_at - now <= DUE_SOON else "upcoming"
        when = f"T+{comm['at_minutes']}" if comm["at_minutes"] is not None else f"if {comm['condition']}"
        items.append(
            CommsItem(
                comm["id"],
                when,
                comm["channel"],
                comm["to"],
                comm["summary"],
                status,
                due_at,
                sent["at"] if sent else "",
                sent["by"] if sent else "",
            )
        )
    return items


def format_delta(delta: timedelta) -> str:
    seconds = int(abs(delta.total_seconds()))
    sign = "-" if delta.total_seconds() < 0 else ""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours}:{minutes:02d}:{secs:02d}" if hours else f"{sign}{minutes:02d}:{secs:02d}"
