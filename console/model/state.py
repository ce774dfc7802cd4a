"""Incident state as a pure fold of journal records.

The same :func:`apply` serves live updates, resume after a crash and the report: nothing about an
incident is known that is not in its journal. Derived facts (a manual step's status, the current
phase) are computed from the folded state, never stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from console.model import events
from console.model.plan import Plan

TERMINAL = ("succeeded", "failed", "cancelled", "timed_out", "skipped")


@dataclass
class Attempt:
    number: int
    started_at: str
    started_by: str
    hosts: tuple[str, ...]
    finished_at: str | None = None
    outcome: str | None = None
    error: str = ""
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    remote: dict[str, int] = field(default_factory=dict)
    """host -> remote process group of this attempt's command (ssh-based kinds)."""


@dataclass
class StepState:
    id: str
    status: str = "pending"
    attempts: list[Attempt] = field(default_factory=list)
    skip_reason: str = ""
    skipped_by: str = ""
    cancel_requested: bool = False

    @property
    def attempt(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None


@dataclass
class Tick:
    step: str
    check: str
    result: str
    note: str
    by: str
    at: str


@dataclass
class IncidentState:
    id: str = ""
    plan: Plan | None = None
    status: str = "new"
    severity: str = ""
    trigger: str = ""
    detected_at: str = ""
    opened_at: str = ""
    opened_by: str = ""
    closed_at: str = ""
    closed_by: str = ""
    outcome: str = ""
    summary: str = ""
    driver: str | None = None
    steps: dict[str, StepState] = field(default_factory=dict)
    ticks: dict[tuple[str, str], Tick] = field(default_factory=dict)
    notes: list[dict[str, Any]] = field(default_factory=list)
    comms: dict[str, dict[str, Any]] = field(default_factory=dict)
    comms_failures: list[dict[str, Any]] = field(default_factory=list)
    comms_warnings: list[dict[str, Any]] = field(default_factory=list)
    refusals: list[dict[str, Any]] = field(default_factory=list)
    seat_changes: list[dict[str, Any]] = field(default_factory=list)
    resumes: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    breached_at: str = ""
    presence: dict[str, dict[str, Any]] = field(default_factory=dict)
    seat_requests: list[dict[str, Any]] = field(default_factory=list)
    observers_may_note: bool = True
    """The policy journaled at the opening (and each resume): ``server.observers_may_note``."""
    history: dict[str, Any] = field(default_factory=dict)
    """Earlier runs of the same runbook, summed up at the opening (:mod:`console.model.history`)."""
    preflight: dict[str, Any] = field(default_factory=dict)
    """The gate the incident opened behind: its journaled record's type and data (passed or overridden)."""
    seq: int = 0

    @property
    def running(self) -> str | None:
        return next((s.id for s in self.steps.values() if s.status == "running"), None)

    def step_status(self, step_id: str) -> str:
        """A manual step's status comes from its ticks; other steps from their runs."""
        assert self.plan is not None
        planned = self.plan.steps[step_id]
        state = self.steps[step_id]
        if planned.automated or state.status == "skipped":
            return state.status
        results = [self.ticks.get((step_id, cid)) for cid, _ in planned.checks]
        if any(t is None for t in results):
            return "pending"
        return "failed" if any(t.result == "fail" for t in results if t) else "succeeded"

    def open_checks(self) -> list[tuple[str, str, str]]:
        """``(step, check, text)`` of every manual check nobody has ticked yet."""
        assert self.plan is not None
        return [
            (step.id, cid, text)
            for step in self.plan.ordered_steps()
            for cid, text in step.checks
            if (step.id, cid) not in self.ticks and self.steps[step.id].status != "skipped"
        ]


def fold(records: list[dict[str, Any]]) -> IncidentState:
    state = IncidentState()
    for record in records:
        apply(state, record)
    return state


def apply(state: IncidentState, record: dict[str, Any]) -> IncidentState:
    """Apply one journal record. Unknown types are ignored so newer journals stay readable."""
    handler = _HANDLERS.get(record["type"])
    if handler is not None:
        handler(state, record, record["data"])
    state.seq = record["seq"]
    return state


_OF_A_STEP = frozenset(
    {
        events.STEP_STARTED,
        events.STEP_HOST_FINISHED,
        events.STEP_FINISHED,
        events.STEP_WARNING,
        events.STEP_REMOTE_STARTED,
        events.STEP_CANCEL_REQUESTED,
        events.STEP_INTERRUPTED,
        events.STEP_SKIPPED,
    }
)


def unfoldable(state: IncidentState, type_: str, data: dict[str, Any]) -> str | None:
    """Why a record about to be written could not be applied to ``state``, or None: checked
    before writing, because a record the fold rejects makes the incident unreadable for good."""
    if type_ == events.INCIDENT_OPENED:
        return None if state.plan is None else "the incident is already open"
    if state.plan is None:
        return "the journal does not start with incident.opened"
    if type_ in _OF_A_STEP and data.get("step") not in state.steps:
        return f"no step {data.get('step')!r} in the plan"
    return None


def _opened(state: IncidentState, record: dict[str, Any], data: dict[str, Any]) -> None:
    state.id = data["incident"]
    state.plan = Plan.from_dict(data["plan"])
    state.status = "open"
    state.severity = data["severity"]
    state.trigger = data["trigger"]
    state.detected_at = data["detected_at"]
    state.opened_at = record["ts"]
    state.opened_by = record["actor"]
    state.steps = {s.id: StepState(s.id) for s in state.plan.ordered_steps()}
    state.observers_may_note = data.get("policy", {}).get("observers_may_note", True)
    state.history = data.get("history") or {}


def _seat(state: IncidentState, record: dict[str, Any], data: dict[str, Any]) -> None:
    state.driver = data.get("to")
    state.seat_changes.append({"at": record["ts"], "type": record["type"], "by": record["actor"], **data})
    state.seat_requests = [r for r in state.seat_requests if r["by"] != state.driver]


def _seat_requested(state: IncidentState, record: dict[str, Any], data: dict[str, Any]) -> None:
    state.seat_requests = [r for r in state.seat_requests if r["by"] != data["by"]]
    state.seat_requests.append({"at": record["ts"], "by": data["by"]})


def _joined(state: IncidentState, record: dict[str, Any], data: dict[str, Any]) -> None:
    state.presence[data["connection"]] = {
        "name": record["actor"],
        "role": record["role"],
        "via": data.get("via", ""),
        "since": record["ts"],
    }


def _left(state: IncidentState, record: dict[str, Any], data: dict[str, Any]) -> None:
    state.presence.pop(data["connection"], None)


def _started(state: IncidentState, record: dict[str, Any], data: dict[str, Any]) -> None:
    step = state.steps[data["step"]]
    step.status = "running"
    step.cancel_requested = False
    step.attempts.append(Attempt(data["attempt"], record["ts"], record["actor"], tuple(data["hosts"])))


def _host_finished(state: IncidentState, record: dict[str, Any], data: dict[str, Any]) -> None:
    attempt = state.steps[data["step"]].attempt
    if attempt is not None:
        attempt.results[data["host"]] = {**data["result"], "at": record["ts"]}


def _warning(state: IncidentState, record: dict[str, Any], data: dict[str, Any]) -> None:
    attempt = state.steps[data["step"]].attempt
    if attempt is not None:
        attempt.warnings.append({"at": record["ts"], "host": data["host"], "message": data["message"]})


def _remote_started(state: IncidentState, record: dict[str, Any], data: dict[str, Any]) -> None:
    attempt = state.steps[data["step"]].attempt
    if attempt is not None:
        attempt.remote[data["host"]] = data["pgid"]


def _finished(state: IncidentState, record: dict[str, Any], data: dict[str, Any]) -> None:
    step = state.steps[data["step"]]
    step.status = data["outcome"]
    step.cancel_requested = False
    if step.attempt is not None:
        step.attempt.finished_at = record["ts"]
        step.attempt.outcome = data["outcome"]
        step.attempt.error = data.get("error", "")


def _cancel_requested(state: IncidentState, record: dict[str, Any], data: dict[str, Any]) -> None:
    state.steps[data["step"]].cancel_requested = True


def _interrupted(state: IncidentState, record: dict[str, Any], data: dict[str, Any]) -> None:
    step = state.steps[data["step"]]
    step.status = "interrupted"
    if step.attempt is not None:
        step.attempt.finished_at = record["ts"]
        step.attempt.outcome = "interrupted"
        step.attempt.error = "interrupted - outcome unknown"


def _skipped(state: IncidentState, record: dict[str, Any], data: dict[str, Any]) -> None:
    step = state.steps[data["step"]]
    step.status = "skipped"
    step.skip_reason = data["reason"]
    step.skipped_by = record["actor"]


def _ticked(state: IncidentState, record: dict[str, Any], data: dict[str, Any]) -> None:
    key = (data["step"], data["check"])
    state.ticks[key] = Tick(
        data["step"], data["check"], data["result"], data.get("note", ""), record["actor"], record["ts"]
    )


def _preflight(state: IncidentState, record: dict[str, Any], data: dict[str, Any]) -> None:
    state.preflight = {"type": record["type"], "at": record["ts"], "by": record["actor"], **data}


def _note(state: IncidentState, record: dict[str, Any], data: dict[str, Any]) -> None:
    state.notes.append({"at": record["ts"], "by": record["actor"], "text": data["text"]})


def _comms(state: IncidentState, record: dict[str, Any], data: dict[str, Any]) -> None:
    state.comms[data["comm"]] = {"at": record["ts"], "by": record["actor"], **data}


def _comms_failed(state: IncidentState, record: dict[str, Any], data: dict[str, Any]) -> None:
    state.comms_failures.append({"at": record["ts"], "by": record["actor"], **data})


def _comms_warning(state: IncidentState, record: dict[str, Any], data: dict[str, Any]) -> None:
    state.comms_warnings.append({"at": record["ts"], "by": record["actor"], **data})


def _refused(state: IncidentState, record: dict[str, Any], data: dict[str, Any]) -> None:
    state.refusals.append({"at": record["ts"], "by": record["actor"], "role": record["role"], **data})


def _resumed(state: IncidentState, record: dict[str, Any], data: dict[str, Any]) -> None:
    state.resumes.append({"at": record["ts"], "by": record["actor"], **data})
    state.observers_may_note = data.get("policy", {}).get("observers_may_note", state.observers_may_note)
    state.driver = None
    state.presence.clear()  # nobody is connected to a process that just started
    state.seat_requests.clear()


def _decision(state: IncidentState, record: dict[str, Any], data: dict[str, Any]) -> None:
    state.decisions.append({"at": record["ts"], "by": record["actor"], **data})


def _severity(state: IncidentState, record: dict[str, Any], data: dict[str, Any]) -> None:
    state.severity = data["severity"]


def _breached(state: IncidentState, record: dict[str, Any], data: dict[str, Any]) -> None:
    state.breached_at = record["ts"]


def _closed(state: IncidentState, record: dict[str, Any], data: dict[str, Any]) -> None:
    state.status = "closed"
    state.closed_at = record["ts"]
    state.closed_by = record["actor"]
    state.outcome = data["outcome"]
    state.summary = data.get("summary", "")
    state.driver = None


def _journal_closed(state: IncidentState, record: dict[str, Any], data: dict[str, Any]) -> None:
    """The closing record changes nothing: it says the journal ends here (console.model.seal)."""


_HANDLERS = {
    events.INCIDENT_OPENED: _opened,
    events.SEAT_TAKEN: _seat,
    events.SEAT_RELEASED: _seat,
    events.SEAT_HANDED_OVER: _seat,
    events.SEAT_REQUESTED: _seat_requested,
    events.PRESENCE_JOINED: _joined,
    events.PRESENCE_LEFT: _left,
    events.STEP_STARTED: _started,
    events.STEP_HOST_FINISHED: _host_finished,
    events.STEP_FINISHED: _finished,
    events.STEP_WARNING: _warning,
    events.STEP_REMOTE_STARTED: _remote_started,
    events.STEP_CANCEL_REQUESTED: _cancel_requested,
    events.STEP_INTERRUPTED: _interrupted,
    events.STEP_SKIPPED: _skipped,
    events.CHECK_TICKED: _ticked,
    events.NOTE_ADDED: _note,
    events.PREFLIGHT_PASSED: _preflight,
    events.PREFLIGHT_OVERRIDDEN: _preflight,
    events.COMMS_SENT: _comms,
    events.COMMS_FAILED: _comms_failed,
    events.COMMS_WARNING: _comms_warning,
    events.COMMAND_REFUSED: _refused,
    events.INCIDENT_RESUMED: _resumed,
    events.DECISION_RECORDED: _decision,
    events.SEVERITY_CHANGED: _severity,
    events.RTO_BREACHED: _breached,
    events.INCIDENT_CLOSED: _closed,
    events.JOURNAL_CLOSED: _journal_closed,
}
