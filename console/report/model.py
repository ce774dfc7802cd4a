"""The report's data: a pure function of the journal's records (and the output excerpts).

Nothing here reads a clock or the machine: times come from the records, paths are relative to the
incident directory, so the same journal gives the same report anywhere. The renderers
(:mod:`.markdown`, :mod:`.html`, :mod:`.json_format`) only lay this data out; the JSON format is
this data itself, described by ``report.schema.json``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from console.model import events
from console.model.activity import activity
from console.model.clock import iso, parse_iso
from console.model.score import clock, phase_scores
from console.model.seal import SealState
from console.model.state import IncidentState, fold
from console.report.backups import rpo_section
from console.report.people import people_section
from console.report.preflight import preflight_section
from console.report.seal import seal_section
from console.report.steps import Excerpt, skipped_section, step_section, ticks_section
from console.report.times import Moments, between, duration

REPORT_FORMAT = 1


def build(
    records: list[dict[str, Any]],
    excerpt: Excerpt,
    *,
    torn_bytes: int = 0,
    seal: SealState | None = None,
    live: bool = False,
) -> dict:
    state = fold(records)
    plan = state.plan
    assert plan is not None, "the journal does not start with incident.opened"
    at = Moments(state.opened_at, records[-1]["ts"])
    report = {
        "report_format": REPORT_FORMAT,
        "incident": _incident(state, torn_bytes, live),
        "journal": _journal(records, state, torn_bytes, at) | {"seal": seal_section(seal)},
        "runbook": {k: str(plan.runbook.get(k, "")) for k in ("id", "title", "version", "source", "description")}
        | {"origin": _origin(str(plan.runbook.get("origin", "")))},
        "environment": {"name": plan.environment, "variants": dict(plan.variants)},
        "severity": _severity(state, records, at),
        "trigger": state.trigger,
        "times": _times(state, records, at),
        "decisions": [_at(d, at) | {"decision": d["decision"], "reason": d["reason"]} for d in state.decisions],
        "people": people_section(records, at),
        "rto": _rto(state, records[-1]["ts"]),
        "rpo": rpo_section(state),
        "phases": _phases(state, at),
        "steps": [step_section(state, step.id, records, at, excerpt, live) for step in plan.ordered_steps()],
        "excluded_steps": [{"id": sid, "reason": why} for sid, why in plan.excluded],
        "ticks": ticks_section(plan, records, at),
        "comms": _comms(state, records[-1]["ts"], at),
        "notes": [_at(n, at) | {"text": n["text"]} for n in state.notes],
        "activity": [{"t": at.t(e.at)} | e.to_dict() for e in activity(records)],
        "skipped": skipped_section(state, records, at),
        "refusals": [
            _at(r, at) | {"role": r["role"], "command": r["command"], "reason": r["reason"]} for r in state.refusals
        ],
        "warnings": [
            {"at": r["ts"], "t": at.t(r["ts"])} | {k: r["data"][k] for k in ("step", "attempt", "host", "message")}
            for r in records
            if r["type"] == events.STEP_WARNING
        ],
        "followups": [{"id": f["id"], "title": f["title"], "items": list(f["items"])} for f in plan.followups],
        "prevention": [{"title": p["title"], "items": list(p.get("items", []))} for p in plan.prevention],
        "contacts": [{k: c.get(k, "") for k in ("role", "name", "phone", "email")} for c in plan.contacts],
    }
    hosts = hosts_section(plan)
    if hosts:  # only when a host was reached other than directly (older reports stay as they were)
        report["hosts"] = hosts
    gate = preflight_section(records, at)
    if gate is not None:  # journals from before the gate (and their golden reports) stay as they were
        report["preflight"] = gate
    return report


def hosts_section(plan: Any) -> list[dict[str, Any]]:
    """Each host as it was reached (login, bastion chain, the alias it was resolved from), when
    any was reached through a bastion or an OpenSSH config alias; else nothing to add."""
    targets = plan.targets.values()
    if not any(t.jump is not None or t.alias for t in targets):
        return []
    return [
        {
            "name": t.name,
            "login": t.login(),
            "via": [hop.name for hop in t.chain()],
            "alias": t.alias,
            "route": t.route() + (f" (ssh_config alias {t.alias})" if t.alias else ""),
        }
        for t in targets
    ]


def _at(item: dict[str, Any], at: Moments) -> dict[str, Any]:
    return {"at": item["at"], "t": at.t(item["at"]), "by": item["by"]}


def _origin(origin: str) -> str:
    """A runbook file is named by its file name: its directory is the recording machine's."""
    return origin if origin.startswith("built-in:") else origin.replace("\\", "/").rsplit("/", 1)[-1]


def _incident(state: IncidentState, torn_bytes: int, live: bool) -> dict[str, Any]:
    running = state.running
    if state.status == "closed":
        status, marking = "closed", f"CLOSED — {state.outcome}"
    elif running and live:
        status, marking = "open", f"OPEN — still in progress (step {running} running)"
    elif running:
        status, marking = "crashed", f"CRASHED — step {running} interrupted, outcome unknown"
    elif torn_bytes:
        status, marking = "crashed", "CRASHED — the journal ends in a torn record, written when the process died"
    else:
        status, marking = "open", "OPEN — still in progress"
    return {
        "id": state.id,
        "status": status,
        "marking": marking,
        "outcome": state.outcome,
        "summary": state.summary,
        "running_step": running or "",
    }


def _journal(records: list[dict[str, Any]], state: IncidentState, torn_bytes: int, at: Moments) -> dict[str, Any]:
    set_aside = [
        {
            "at": r["at"],
            "t": at.t(r["at"]),
            "bytes": r["torn_record"]["bytes"],
            "saved_as": r["torn_record"]["saved_as"],
        }
        for r in state.resumes
        if r.get("torn_record")
    ]
    return {
        "file": "journal.jsonl",
        "records": len(records),
        "chain": "verified",
        "first_hash": records[0]["hash"],
        "last_hash": records[-1]["hash"],
        "last_record_at": records[-1]["ts"],
        "torn_tail_bytes": torn_bytes,
        "torn_records_set_aside": set_aside,
        "resumes": [_at(r, at) | {"previous_driver": r.get("previous_driver") or ""} for r in state.resumes],
    }


def _severity(state: IncidentState, records: list[dict[str, Any]], at: Moments) -> dict[str, Any]:
    assert state.plan is not None
    matrix = state.plan.severity.get(state.severity, {})
    changes = [
        {"at": r["ts"], "t": at.t(r["ts"]), "by": r["actor"]}
        | {"from": r["data"].get("was", ""), "to": r["data"]["severity"], "reason": r["data"].get("reason", "")}
        for r in records
        if r["type"] == events.SEVERITY_CHANGED
    ]
    return {
        "level": state.severity,
        "initial": records[0]["data"]["severity"],
        "label": matrix.get("label", ""),
        "rollback": matrix.get("rollback", ""),
        "response_minutes": matrix.get("response_minutes"),
        "rto_minutes": matrix.get("rto_minutes"),
        "changes": changes,
    }


def _times(state: IncidentState, records: list[dict[str, Any]], at: Moments) -> dict[str, Any]:
    return {
        "detected_at": state.detected_at,
        "detected_t": at.t(state.detected_at) if state.detected_at else "",
        "opened_at": state.opened_at,
        "opened_by": state.opened_by,
        "closed_at": state.closed_at,
        "closed_t": at.t(state.closed_at) if state.closed_at else "",
        "closed_by": state.closed_by,
        "as_of": records[-1]["ts"],
        "as_of_t": at.t(records[-1]["ts"]),
    }


def _rto(state: IncidentState, as_of: str) -> dict[str, Any]:
    assert state.plan is not None
    minutes = state.plan.severity.get(state.severity, {}).get("rto_minutes")
    start = state.detected_at or state.opened_at
    counted_from = "detected" if state.detected_at else "opened"
    found: dict[str, Any] = {"target_minutes": minutes, "counted_from": counted_from, "start": start}
    found |= {"deadline": "", "actual_seconds": None, "actual": "", "breached_at": state.breached_at}
    if minutes is None:
        return found | {"verdict": "unknown", "text": f"no RTO for severity {state.severity} in the runbook"}
    deadline = parse_iso(start) + timedelta(minutes=minutes)
    found["deadline"] = iso(deadline)
    limit = minutes * 60
    if state.status == "closed":
        actual = between(start, state.closed_at)
        found |= {"actual_seconds": actual, "actual": duration(actual)}
        if actual <= limit and not state.breached_at:
            return found | {
                "verdict": "met",
                "text": f"closed after {duration(actual)}, {clock(limit - actual)} to spare",
            }
        return found | {
            "verdict": "missed",
            "text": f"{clock(actual - limit)} over: closed after {duration(actual)}",
        }
    elapsed = between(start, as_of)
    if state.breached_at or elapsed > limit:
        moment = state.breached_at or found["deadline"]
        return found | {"verdict": "missed", "text": f"the deadline passed ({moment}) with the incident still open"}
    return found | {
        "verdict": "open",
        "text": f"not met yet, still open after {clock(elapsed)} as of the last record",
    }


def _phases(state: IncidentState, at: Moments) -> list[dict[str, Any]]:
    t0 = parse_iso(state.opened_at)

    def moment(seconds: float | None) -> str:
        return iso(t0 + timedelta(seconds=seconds)) if seconds is not None else ""

    return [
        {
            "number": s.number,
            "id": s.id,
            "title": s.title,
            "window_start_minute": s.window[0],
            "window_end_minute": s.window[1],
            "planned_start": moment(s.window[0] * 60),
            "planned_end": moment(s.window[1] * 60),
            "actual_start": moment(s.start),
            "actual_end": moment(s.end),
            "start_seconds": s.start,
            "end_seconds": s.end,
            "start_t": at.offset(s.start) if s.start is not None else "",
            "end_t": at.offset(s.end) if s.end is not None else "",
            "duration_seconds": None if s.duration is None else round(s.duration, 3),
            "done": s.done,
            "total": s.total,
            "verdict": s.verdict,
        }
        for s in phase_scores(state)
    ]


def _comms(state: IncidentState, as_of: str, at: Moments) -> list[dict[str, Any]]:
    """The communication plan against what was sent; due times count from detection, as on screen."""
    assert state.plan is not None
    start = parse_iso(state.detected_at or state.opened_at)
    found = []
    for comm in state.plan.comms:
        sent = state.comms.get(comm["id"])
        minutes = comm.get("at_minutes")
        due = iso(start + timedelta(minutes=minutes)) if minutes is not None else ""
        when = f"T+{minutes} min" if minutes is not None else f"if {comm.get('condition', '')}"
        late = between(due, sent["at"]) if sent and due else 0.0
        if sent:
            status = "sent late" if late > 0 else "sent"
        elif not due:
            status = "not triggered"
        elif parse_iso(as_of) >= parse_iso(due):
            status = "missed" if state.status == "closed" else "overdue"
        else:
            status = "not yet due"
        found.append(
            {
                "id": comm["id"],
                "when": when,
                "due_at": due,
                "due_t": at.t(due) if due else "",
                "channel": comm["channel"],
                "to": comm["to"],
                "audience": comm.get("audience", ""),
                "summary": comm["summary"],
                "status": status,
                "late_by": clock(late) if late > 0 else "",
                "sent_at": sent["at"] if sent else "",
                "sent_t": at.t(sent["at"]) if sent else "",
                "sent_by": sent["by"] if sent else "",
                "note": sent.get("note", "") if sent else "",
                "result": sent.get("result", "") if sent else "",
            }
        )
    return found
