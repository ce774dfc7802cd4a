"""The journal's record types, named once.

The engine commits these, the state fold and the report read them, the screens and the attach
clients react to them. The strings are the on-disk format: renaming a constant is free, changing
its value is a journal format change.
"""

from __future__ import annotations

INCIDENT_OPENED = "incident.opened"
INCIDENT_RESUMED = "incident.resumed"
INCIDENT_CLOSED = "incident.closed"
JOURNAL_CLOSED = "journal.closed"
"""The closing record: the engine of a closed incident stopped cleanly; nothing was written after it
(:mod:`console.model.seal`). Resuming the incident later appends after it."""

PREFLIGHT_PASSED = "preflight.passed"
"""The gate passed before the first step: how many checks, on which hosts, and any warnings."""
PREFLIGHT_OVERRIDDEN = "preflight.overridden"
"""The gate failed and the driver started anyway (``--force``): the failed lines, in full."""

SEAT_TAKEN = "seat.taken"
SEAT_RELEASED = "seat.released"
SEAT_HANDED_OVER = "seat.handed_over"
SEAT_REQUESTED = "seat.requested"

PRESENCE_JOINED = "presence.joined"
PRESENCE_LEFT = "presence.left"

STEP_STARTED = "step.started"
STEP_HOST_FINISHED = "step.host_finished"
STEP_FINISHED = "step.finished"
STEP_WARNING = "step.warning"
STEP_REMOTE_STARTED = "step.remote_started"
STEP_CANCEL_REQUESTED = "step.cancel_requested"
STEP_INTERRUPTED = "step.interrupted"
STEP_SKIPPED = "step.skipped"

CHECK_TICKED = "check.ticked"
NOTE_ADDED = "note.added"
COMMS_SENT = "comms.sent"
COMMS_FAILED = "comms.failed"
COMMS_WARNING = "comms.warning"
"""A message went out other than planned (its template could not be filled: the summary was sent)."""
COMMAND_REFUSED = "command.refused"
DECISION_RECORDED = "decision.recorded"
SEVERITY_CHANGED = "severity.changed"
RTO_BREACHED = "rto.breached"

SEAT_CHANGES = (SEAT_TAKEN, SEAT_RELEASED, SEAT_HANDED_OVER, SEAT_REQUESTED)
"""Every change of (or request for) the driver seat."""
PRESENCE = (PRESENCE_JOINED, PRESENCE_LEFT)
"""Someone connected to or left the incident."""
