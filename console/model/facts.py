"""The incident's facts a message may quote: ``{incident_id}``, ``{phase}``, ``{eta}``, ...

The comms plan's messages (sent by the engine) and the notify step's templates are filled with
the same facts, from the incident's state and the war room's clock: a message reads the same
whoever sends it, and a template is checked against the same names it will be filled with.
"""

from __future__ import annotations

from datetime import UTC, datetime

from console.model.state import IncidentState
from console.model.templates import FACTS as FACTS
from console.model.timeline import rto_status


def incident_facts(state: IncidentState, now: datetime) -> dict[str, str]:
    """The values a message template may use, from the incident as it stands at ``now``.

    ``eta`` is the RTO countdown's projected finish (time spent so far plus each unfinished
    step's share of its phase window), so a message says what the war room's clock says.
    """
    plan = state.plan
    assert plan is not None
    rto = rto_status(state, now)
    finish = rto.projected_finish.astimezone(UTC)
    same_day = finish.date() == now.astimezone(UTC).date()
    return {
        "incident_id": state.id,
        "severity": state.severity,
        "severity_label": plan.severity.get(state.severity, {}).get("label", state.severity),
        "phase": rto.phase.title if rto.phase else "rollback complete",
        "eta": f"{finish:%H:%M} UTC" if same_day else f"{finish:%Y-%m-%d %H:%M} UTC",
        "runbook": str(plan.runbook.get("title") or plan.runbook.get("id", "")),
        "environment": plan.environment,
        "trigger": state.trigger,
    }
