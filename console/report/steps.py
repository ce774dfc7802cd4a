"""Steps in the report: every attempt per host with its output excerpt, checks, skips and ticks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from console.model import events
from console.model.plan import Plan
from console.model.state import IncidentState
from console.report.outputs import output_path
from console.report.times import Moments, between

Excerpt = Callable[[str, dict[str, Any] | None], dict[str, Any]]
"""``(path relative to the incident directory, journaled host result or None) -> excerpt``."""

STATUS_TEXT = {
    "interrupted": "interrupted — outcome unknown",
    "timed_out": "timed out",
}


def step_section(
    state: IncidentState, step_id: str, records: list[dict[str, Any]], at: Moments, excerpt: Excerpt, live: bool
) -> dict[str, Any]:
    assert state.plan is not None
    planned = state.plan.steps[step_id]
    step = state.steps[step_id]
    status = state.step_status(step_id)
    text = STATUS_TEXT.get(status, status)
    if status == "running" and state.status == "open":
        text = "running" if live else "CRASHED while running — outcome unknown"
    confirmed = {
        r["data"]["attempt"]: bool(r["data"].get("confirmed"))
        for r in records
        if r["type"] == events.STEP_STARTED and r["data"]["step"] == step_id
    }
    return {
        "id": planned.id,
        "title": planned.title,
        "kind": planned.kind,
        "phase": planned.phase,
        "automated": planned.automated,
        "destructive": planned.destructive,
        "optional": planned.optional,
        "hosts": list(planned.hosts),
        "cwd": planned.cwd,
        "commands": list(planned.commands),
        "per_host": _per_host(planned),
        "status": status,
        "status_text": text,
        "skip": _skip_of(step_id, records, at),
        "checks": [_check(state, step_id, cid, ctext, at) for cid, ctext in planned.checks],
        "attempts": [_attempt(step_id, a, confirmed.get(a.number, False), at, excerpt) for a in step.attempts],
    }


def _per_host(planned: Any) -> list[dict[str, Any]]:
    """What each group of hosts ran, when per-host values gave them different commands (the step's
    own ``cwd``/``commands`` are its first host's); empty when every host ran the same."""
    groups: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for host in planned.hosts:
        own = planned.for_host(host)
        groups.setdefault((own.cwd, own.commands), []).append(host)
    if len(groups) < 2:
        return []
    return [{"hosts": hosts, "cwd": cwd, "commands": list(commands)} for (cwd, commands), hosts in groups.items()]


def _check(state: IncidentState, step_id: str, check_id: str, text: str, at: Moments) -> dict[str, Any]:
    tick = state.ticks.get((step_id, check_id))
    if tick is None:
        return {"id": check_id, "text": text, "result": "", "by": "", "at": "", "t": "", "note": ""}
    return {"id": check_id, "text": text, "result": tick.result, "by": tick.by, "at": tick.at, "t": at.t(tick.at)} | {
        "note": tick.note
    }


def _attempt(step_id: str, attempt: Any, confirmed: bool, at: Moments, excerpt: Excerpt) -> dict[str, Any]:
    finished = attempt.finished_at
    hosts = []
    for host in attempt.hosts:
        result = attempt.results.get(host)
        found = {
            "host": host,
            "status": result["status"] if result else "unknown",
            "exit_code": result.get("exit_code") if result else None,
            "error": result.get("error", "") if result else "",
            "duration_seconds": result.get("duration") if result else None,
            "facts": dict(result.get("facts", {})) if result else {},
            "output": excerpt(output_path(step_id, attempt.number, host), result),
        }
        hosts.append(found)
    return {
        "number": attempt.number,
        "started_at": attempt.started_at,
        "t": at.t(attempt.started_at),
        "started_by": attempt.started_by,
        "confirmed": confirmed,
        "finished_at": finished or "",
        "finished_t": at.t(finished) if finished else "",
        "outcome": attempt.outcome or "unknown",
        "error": attempt.error,
        "duration_seconds": between(attempt.started_at, finished) if finished else None,
        "hosts": hosts,
    }


def _skip_of(step_id: str, records: list[dict[str, Any]], at: Moments) -> dict[str, Any] | None:
    found = None
    for r in records:
        if r["type"] == events.STEP_SKIPPED and r["data"]["step"] == step_id:
            found = {"at": r["ts"], "t": at.t(r["ts"]), "by": r["actor"], "reason": r["data"]["reason"]}
            found["was"] = r["data"].get("was", "")
    return found


def skipped_section(state: IncidentState, records: list[dict[str, Any]], at: Moments) -> list[dict[str, Any]]:
    assert state.plan is not None
    found = []
    for step in state.plan.ordered_steps():
        skip = _skip_of(step.id, records, at) if state.steps[step.id].status == "skipped" else None
        if skip:
            found.append({"step": step.id, "title": step.title} | skip)
    return found


def ticks_section(plan: Plan, records: list[dict[str, Any]], at: Moments) -> list[dict[str, Any]]:
    """Every tick as it happened, a changed mind included (the step tables show the last one)."""
    found = []
    for r in records:
        if r["type"] != events.CHECK_TICKED:
            continue
        d = r["data"]
        step = plan.steps.get(d["step"])
        text = dict(step.checks).get(d["check"], "") if step else ""
        found.append({"at": r["ts"], "t": at.t(r["ts"]), "by": r["actor"], "step": d["step"], "check": d["check"]})
        found[-1] |= {"text": text, "result": d["result"], "note": d.get("note", "")}
    return found
