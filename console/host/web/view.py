"""What the status page shows, from the folded incident state: one plain dict per render.

Everything here comes from the same journal records the console folds (:mod:`console.model.state`)
and the same derived facts (:mod:`console.model.timeline`, :mod:`console.model.score`), so the page
and the war room cannot disagree. Text is left raw: the template engine escapes it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from console.model import rules
from console.model.clock import iso
from console.model.sanitize import neutralise
from console.model.score import phase_scores
from console.model.state import IncidentState
from console.model.timeline import comms_timeline, format_delta, rto_status

OutputTail = Callable[[str, int, str], list[str]]
"""``(step, attempt, host) -> last lines`` of that host's output (redacted), when the page shows output."""

_FAILED = ("failed", "cancelled", "timed_out", "interrupted")


def incident_view(
    state: IncidentState, now: datetime, *, web_viewers: int, output_tail: OutputTail | None = None
) -> dict[str, Any]:
    """The page's data. ``web_viewers`` counts browsers watching now (they are in presence too)."""
    assert state.plan is not None
    plan = state.plan
    rto = rto_status(state, now)
    scores = {score.id: score for score in phase_scores(state)}
    current = state.running or rules.next_runnable(plan, state)
    phases = []
    for phase in plan.phases:
        score = scores[phase.id]
        phases.append(
            {
                "id": phase.id,
                "title": phase.title,
                "window": f"T+{phase.start_minute} – T+{phase.end_minute} min",
                "done": score.done,
                "total": score.total,
                "verdict": score.verdict,
                "tone": _phase_tone(score.verdict),
                "steps": [_step(state, step_id, current) for step_id in phase.steps],
            }
        )
    watchers = rules.watching(state)
    severity = plan.severity.get(state.severity, {})
    view: dict[str, Any] = {
        "id": state.id,
        "title": plan.runbook.get("title", ""),
        "version": plan.runbook.get("version", ""),
        "environment": plan.environment,
        "severity": state.severity,
        "severity_label": severity.get("label", ""),
        "trigger": state.trigger,
        "status": state.status,
        "opened_at": state.opened_at,
        "detected_at": state.detected_at or state.opened_at,
        "driver": state.driver or "",
        "watching": len(watchers),
        "web_viewers": web_viewers,
        "rto": {
            "minutes": int(rto.rto.total_seconds() // 60),
            "deadline": iso(rto.deadline),
            "remaining": format_delta(rto.remaining),
            "level": rto.level,
            "breached_at": state.breached_at,
            "stopped": state.status == "closed",
        },
        "phase": rto.phase.title if rto.phase else "",
        "current": _current(state, current),
        "phases": phases,
        "comms": [_comm(item) for item in comms_timeline(state, now)],
        "notes": [{"at": n["at"], "by": n["by"], "text": neutralise(n["text"])} for n in state.notes],
        "outcome": state.outcome,
        "summary": neutralise(state.summary),
        "closed_at": state.closed_at,
        "closed_by": state.closed_by,
        "as_of": iso(now),
        "seq": state.seq,
        "output": _outputs(state, current, output_tail) if output_tail else None,
    }
    return view


def _phase_tone(verdict: str) -> str:
    if verdict.startswith("failed") or verdict.startswith("over"):
        return "bad"
    if verdict == "within window":
        return "good"
    return "active" if verdict == "in progress" else "idle"


def _step(state: IncidentState, step_id: str, current: str | None) -> dict[str, Any]:
    assert state.plan is not None
    planned = state.plan.steps[step_id]
    status = state.step_status(step_id)
    checks = [(cid, state.ticks.get((step_id, cid))) for cid, _ in planned.checks]
    return {
        "id": step_id,
        "title": neutralise(planned.title),
        "status": status,
        "tone": "bad" if status in _FAILED else ("good" if status == "succeeded" else status),
        "manual": not planned.automated,
        "destructive": planned.destructive,
        "checks": f"{sum(1 for _, t in checks if t is not None)}/{len(checks)}" if checks else "",
        "skipped": neutralise(f"{state.steps[step_id].skip_reason} ({state.steps[step_id].skipped_by})")
        if status == "skipped"
        else "",
        "current": step_id == current,
    }


def _current(state: IncidentState, step_id: str | None) -> dict[str, Any] | None:
    if step_id is None or state.status == "closed":
        return None
    assert state.plan is not None
    planned = state.plan.steps[step_id]
    step = state.steps[step_id]
    attempt = step.attempt
    return {
        "id": step_id,
        "title": neutralise(planned.title),
        "status": state.step_status(step_id),
        "running": step.status == "running",
        "since": attempt.started_at if attempt and step.status == "running" else "",
        "hosts": ", ".join(planned.hosts),
    }


def _comm(item) -> dict[str, Any]:
    return {
        "id": item.id,
        "when": item.when,
        "channel": item.channel,
        "to": item.to,
        "summary": item.summary,
        "status": item.status,
        "due_at": iso(item.due_at) if item.due_at else "",
        "sent_at": item.sent_at,
        "sent_by": item.sent_by,
    }


def _outputs(state: IncidentState, current: str | None, tail: OutputTail) -> list[dict[str, Any]]:
    """The output tail of the running step, else of the last step that ran (each host's)."""
    step_id = state.running or _last_ran(state) or current
    if step_id is None:
        return []
    attempt = state.steps[step_id].attempt
    if attempt is None:
        return []
    return [
        {"step": step_id, "host": host, "lines": [neutralise(line) for line in tail(step_id, attempt.number, host)]}
        for host in attempt.hosts
    ]


def _last_ran(state: IncidentState) -> str | None:
    started = [(s.attempt.started_at, s.id) for s in state.steps.values() if s.attempt is not None]
    return max(started)[1] if started else None
