"""When will we be done: each step's expected duration, from history or from its phase window.

A step with enough earlier runs (:mod:`console.model.history`, summed up in the incident's
opening record) is expected to take their median, within the fastest and slowest seen; any other
step its share of its phase's planned window, as the runbook says. The RTO pane projects the
finish from what is left; ``warroom plan --severity`` prints the same per phase against the RTO.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from console.model.clock import parse_iso
from console.model.history import SOURCES
from console.model.plan import Plan, PlannedPhase
from console.model.state import TERMINAL, IncidentState

WINDOW = "window"


@dataclass(frozen=True)
class Estimate:
    seconds: float
    fastest: float
    slowest: float
    source: str
    """``incidents``, ``drills`` or ``window``."""
    runs: int = 0


@dataclass(frozen=True)
class Projection:
    """Work left: expected, and its range (fastest to slowest seen), with the basis in words."""

    expected: timedelta
    fastest: timedelta
    slowest: timedelta
    basis: str


def step_estimates(plan: Plan, history: dict[str, Any]) -> dict[str, Estimate]:
    found: dict[str, Estimate] = {}
    known = history.get("steps") or {}
    for phase in plan.phases:
        share = (phase.end_minute - phase.start_minute) * 60 / max(1, len(phase.steps))
        for step_id in phase.steps:
            h = known.get(step_id)
            if h and h.get("source") in SOURCES:
                found[step_id] = Estimate(h["seconds"], h["fastest"], h["slowest"], h["source"], h["runs"])
            else:
                found[step_id] = Estimate(share, share, share, WINDOW)
    return found


def basis(estimates: dict[str, Estimate], history: dict[str, Any]) -> str:
    """``from 5 drills``, ``from 3 incidents + windows``, ``from windows``."""
    used = {e.source for e in estimates.values()}
    journals = history.get("journals") or {}
    parts = []
    for source in SOURCES:
        if source in used:
            count = journals.get(source, 0)
            parts.append(f"{count} {source if count != 1 else source[:-1]}")
    if not parts:
        return "from windows"
    return "from " + ", ".join(parts) + (" + windows" if WINDOW in used else "")


def remaining(state: IncidentState, now: datetime) -> Projection:
    """The work left in an incident at ``now``: steps not done at their estimate; the running
    one at what is left of it (half its window share, when it has no history)."""
    assert state.plan is not None
    estimates = step_estimates(state.plan, state.history)
    expected = fastest = slowest = 0.0
    for step_id, estimate in estimates.items():
        step = state.steps[step_id]
        if state.step_status(step_id) in TERMINAL:
            continue
        if step.status == "running" and step.attempt is not None:
            if estimate.source == WINDOW:
                cut = (estimate.seconds / 2,) * 3
            else:
                elapsed = (now - parse_iso(step.attempt.started_at)).total_seconds()
                cut = tuple(max(x - elapsed, 0.0) for x in (estimate.seconds, estimate.fastest, estimate.slowest))
        else:
            cut = (estimate.seconds, estimate.fastest, estimate.slowest)
        expected, fastest, slowest = expected + cut[0], fastest + cut[1], slowest + cut[2]
    return Projection(
        timedelta(seconds=expected),
        timedelta(seconds=fastest),
        timedelta(seconds=slowest),
        basis(estimates, state.history),
    )


@dataclass(frozen=True)
class PhaseProjection:
    phase: PlannedPhase
    expected: float
    fastest: float
    slowest: float
    sources: tuple[str, ...]


def by_phase(plan: Plan, history: dict[str, Any]) -> list[PhaseProjection]:
    """Each phase's expected duration (and range) if the whole plan ran from the start."""
    estimates = step_estimates(plan, history)
    found = []
    for phase in plan.phases:
        mine = [estimates[s] for s in phase.steps]
        sources = tuple(dict.fromkeys(e.source for e in mine))
        found.append(
            PhaseProjection(
                phase,
                sum(e.seconds for e in mine),
                sum(e.fastest for e in mine),
                sum(e.slowest for e in mine),
                sources,
            )
        )
    return found
