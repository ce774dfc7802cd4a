"""The incident's rules, each said once: who may act, which step runs next, what may be retried.

The engine refuses by them, the UI greys its bindings by them and the headless runner walks the
plan by them; a rule that lived in each of those would drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from console.model.plan import Plan, PlannedStep
from console.model.state import IncidentState

RETRYABLE = ("failed", "cancelled", "timed_out", "interrupted")
"""Step statuses a retry may start again (a new attempt)."""
SETTLED = ("succeeded", "skipped")
"""Step statuses nobody runs again: the rollback has moved past them."""
UNSKIPPABLE = ("running", "succeeded", "skipped")
"""Step statuses a skip is refused for."""
ALARMING = ("failed", "timed_out", "interrupted")
"""Step statuses the checklist flags on their phase (a cancel was asked for, so it is not flagged)."""
SEATLESS = frozenset({"take-seat", "request-seat", "note"})
"""Commands a driver-eligible user may send without holding the seat; every other one needs it.
A note changes nothing but the shared timeline: whoever watches may write one (an observer too,
when the config allows: :func:`note_refusal`)."""
OBSERVER_NOTE_LIMIT = 500
"""Characters of an observer's note: a remark on the timeline, not a document (a driver's note
has the command argument's limit)."""


class Person(Protocol):
    """Who acts (the engine's ``Actor``): a name and a role."""

    @property
    def name(self) -> str: ...

    @property
    def role(self) -> str: ...


def needs_seat(command: str) -> bool:
    return command not in SEATLESS


def refusal(actor: Person, state: IncidentState, *, seat: bool = True) -> str:
    """Why ``actor`` may not act on the incident now ("" when they may)."""
    if actor.role == "observer":
        return "observers watch only and cannot act"
    if state.status != "open":
        return f"incident is {state.status}"
    if seat and state.driver != actor.name:
        return f"{actor.name} does not hold the driver seat (driver: {state.driver or 'nobody'})"
    return ""


def note_refusal(actor: Person, state: IncidentState, text: str = "") -> str:
    """Why ``actor`` may not add a note now ("" when they may): the one command an observer may
    send, when ``server.observers_may_note`` (journaled as the incident's policy) allows it."""
    if actor.role != "observer":
        return refusal(actor, state, seat=needs_seat("note"))
    if not state.observers_may_note:
        return "observers watch only and cannot act (server.observers_may_note is off)"
    if state.status != "open":
        return f"incident is {state.status}"
    if len(text) > OBSERVER_NOTE_LIMIT:
        return f"an observer's note is at most {OBSERVER_NOTE_LIMIT} characters, this one {len(text)}"
    return ""


def may_note(actor: Person, state: IncidentState) -> bool:
    return not note_refusal(actor, state)


def export_refusal(actor: Person) -> str:
    """Why ``actor`` may not have the engine write the report files ("" when they may): writing
    files on the server is not watching. Any status: a closed incident is the one reported."""
    if actor.role == "observer":
        return "observers watch only and cannot write files on the server"
    return ""


def is_driver(actor: Person, state: IncidentState) -> bool:
    """``actor`` holds the seat of an open incident: the acting commands are theirs."""
    return actor.role == "driver" and not refusal(actor, state)


def may_request_seat(actor: Person, state: IncidentState) -> bool:
    """A driver-eligible user who does not drive may take a free seat or ask for a held one."""
    return actor.role == "driver" and state.status == "open" and not is_driver(actor, state)


def retryable(status: str) -> bool:
    return status in RETRYABLE


def settled(status: str) -> bool:
    return status in SETTLED


def skippable(status: str) -> bool:
    return status not in UNSKIPPABLE


def alarming(status: str) -> bool:
    return status in ALARMING


def unstarted(status: str) -> bool:
    """A step with this status has never run: it is started, not retried."""
    return status == "pending"


def startable(step: PlannedStep, state: IncidentState) -> bool:
    """An automated step that has never run (a step that did run is retried, not started)."""
    return step.automated and unstarted(state.steps[step.id].status)


def next_runnable(plan: Plan, state: IncidentState) -> str | None:
    """The first automated step in plan order that has never run (the console's "run next")."""
    return next((step.id for step in plan.ordered_steps() if startable(step, state)), None)


# ----- gates: the engine refuses with the reason, the UI greys a binding when there is one ----------


def _launch_refusal(step: PlannedStep, state: IncidentState) -> str:
    """What a start and a retry share: only an automated step runs, and one step at a time."""
    if not step.automated:
        return f"step {step.id} is a manual checklist: tick its checks"
    if state.running is not None:
        return f"step {state.running} is still running"
    return ""


def start_refusal(step: PlannedStep, state: IncidentState) -> str:
    """Why ``step`` may not be started now ("" when it may); a destructive step still needs its
    confirmation word, which the engine checks and the UI asks for."""
    status = state.steps[step.id].status
    if not unstarted(status):
        return f"step {step.id} is {status}{'; use retry' if retryable(status) else ''}"
    return _launch_refusal(step, state)


def retry_refusal(step: PlannedStep, state: IncidentState) -> str:
    """Why ``step`` may not be retried now ("" when it may)."""
    status = state.steps[step.id].status
    if not retryable(status):
        return f"step {step.id} is {status}; only {', '.join(RETRYABLE)} steps can be retried"
    return _launch_refusal(step, state)


def cancel_refusal(step_id: str, state: IncidentState, *, held: bool = True) -> str:
    """Only the running step can be cancelled; ``held``: the engine holds its attempt (the flag
    that cancels it), so a step the state calls running but no attempt backs is not running."""
    running = held and state.steps[step_id].status == "running"
    return "" if running else f"step {step_id} is not running"


def close_refusal(state: IncidentState) -> str:
    """An incident is not closed under a running step (its outcome would land after the close)."""
    return f"step {state.running} is still running" if state.running else ""


def tick_refusal(step_id: str, status: str) -> str:
    """A skipped step's checks are not ticked: the step was decided without them."""
    return f"step {step_id} was skipped" if status == "skipped" else ""


def hand_over_refusal(me: str, to: str, role: str) -> str:
    """Why the driver ``me`` may not hand the seat to ``to`` (who has ``role``); "" when they may."""
    if role != "driver":
        return f"{to} is an observer and cannot drive"
    if to == me:
        return f"{me} already drives"
    return ""


def may_start(step: PlannedStep, state: IncidentState) -> bool:
    return not start_refusal(step, state)


def may_retry(step: PlannedStep, state: IncidentState) -> bool:
    return not retry_refusal(step, state)


def may_cancel(state: IncidentState) -> bool:
    """A cancel (from the console) targets the running step: there must be one."""
    return state.running is not None and not cancel_refusal(state.running, state)


def may_close(state: IncidentState) -> bool:
    return not close_refusal(state)


def may_tick(status: str) -> bool:
    return not tick_refusal("", status)


def seat_candidates(state: IncidentState, me: str, users: Mapping[str, str] | None = None) -> list[str]:
    """Who ``me`` could hand the seat to: those who asked first, then connected driver-eligible
    users. Their role is ``users``' (the engine's table) when given, else the one they acted with
    (only a driver may ask for the seat)."""
    names = [r["by"] for r in state.seat_requests]
    names += [p["name"] for p in state.presence.values() if p["role"] == "driver"]
    roles = users or {}
    return [n for n in dict.fromkeys(names) if not hand_over_refusal(me, n, roles.get(n, "driver"))]


SHARED_VIEWER_NAME = "(shared view)"
"""Whom a shared view's console attaches as: no user (a name config users cannot have), never
journaled as present (each SSH session watching it is)."""


def watching(state: IncidentState) -> list[str]:
    """Who watches now, one name per attached client (the console over SSH, ``warroom watch``, a
    session of the drill): every client but the driver's own, so a driver-eligible user who does
    not drive watches too. The header counts these; the report's Watched names everyone who was
    among them at some point, so the two agree."""
    return [p["name"] for p in state.presence.values() if p["name"] != state.driver]
