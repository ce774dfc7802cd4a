"""The incident's rules, each said once: who may act, which step runs next, what may be retried.

The engine refuses by them, the UI greys its bindings by them and the headless runner walks the
plan by them; a rule that lived in each of those would drift apart.
"""

from __future__ import annotations

from typing import Protocol

from console.model.plan import Plan, PlannedStep
from console.model.state import IncidentState

RETRYABLE = ("failed", "cancelled", "timed_out", "interrupted")
"""Step statuses a retry may start again (a new attempt)."""
SETTLED = ("succeeded", "skipped")
"""Step statuses nobody runs again: the rollback has moved past them."""
UNSKIPPABLE = ("running", "succeeded", "skipped")
"""Step statuses a skip is refused for."""
SEATLESS = frozenset({"take-seat", "request-seat"})
"""Commands a driver-eligible user may send without holding the seat; every other one needs it."""


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


def unstarted(status: str) -> bool:
    """A step with this status has never run: it is started, not retried."""
    return status == "pending"


def startable(step: PlannedStep, state: IncidentState) -> bool:
    """An automated step that has never run (a step that did run is retried, not started)."""
    return step.automated and unstarted(state.steps[step.id].status)


def next_runnable(plan: Plan, state: IncidentState) -> str | None:
    """The first automated step in plan order that has never run (the console's "run next")."""
    return next((step.id for step in plan.ordered_steps() if startable(step, state)), None)
