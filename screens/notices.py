"""The toasts a journal record raises on one screen: a step's end, a seat asked for or given to
you, a refusal of your own press, a warning, the RTO's breach. The activity pane keeps the record;
these only catch the eye of whoever it concerns."""

from __future__ import annotations

from typing import Any

from textual.screen import Screen

from console.host.session import Session
from console.model import events


def notify_record(screen: Screen[Any], session: Session, record: dict[str, Any]) -> None:
    kind, data = record["type"], record["data"]
    if kind == events.STEP_FINISHED and data["outcome"] == "succeeded":
        screen.notify(markup=False, message=f"{data['step']} succeeded", timeout=3)
    elif kind == events.STEP_FINISHED:
        screen.notify(
            markup=False,
            message=f"{data['step']} {data['outcome']}: {data.get('error', '')}"[:300],
            title="Step failed",
            severity="error",
            timeout=10,
        )
    elif kind == events.SEAT_REQUESTED and session.is_driver:
        screen.notify(
            markup=False,
            message=f"{data['by']} asks for the driver seat: H hands it over.",
            title="Seat requested",
            timeout=30,
        )
    elif kind in (events.SEAT_HANDED_OVER, events.SEAT_TAKEN) and data.get("to") == session.actor.name:
        screen.notify(markup=False, message="You drive now.", title="Driver seat")
    elif kind == events.COMMAND_REFUSED and record["actor"] == session.actor.name:
        screen.notify(markup=False, message=data["reason"], title="Refused", severity="warning")
    elif kind == events.STEP_WARNING:
        screen.notify(
            markup=False,
            message=f"{data['host']}: {data['message']}"[:300],
            title=f"Warning: {data['step']}",
            severity="warning",
        )
    elif kind == events.RTO_BREACHED:
        screen.notify(
            markup=False, message="The RTO deadline has passed.", title="RTO breached", severity="error", timeout=15
        )
