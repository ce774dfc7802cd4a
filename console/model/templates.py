"""Message templates (``str.format`` over the incident's facts), checked before anything is sent.

The comms plan's messages and the notify step's templates are filled with :data:`FACTS`; a
template that names anything else is a runbook error at load, so filling one mid-incident cannot
fail in the engine (and leave a record the incident cannot replay).
"""

from __future__ import annotations

import string

FACTS = ("incident_id", "severity", "severity_label", "phase", "eta", "runbook", "environment", "trigger")
"""The names a message template may use (the keys of :func:`console.model.facts.incident_facts`)."""


def template_problem(template: str) -> str | None:
    """Why ``template`` cannot be filled with :data:`FACTS`, or None; for load-time checks."""
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        return f"not a valid template ({exc}); write a literal brace as {{{{ or }}}}"
    for name in fields:
        if name == "" or name.isdigit():
            return "positional field {} - name an incident fact, e.g. {incident_id}"
        if name not in FACTS:
            return f"unknown field {{{name}}} (known: {', '.join('{' + f + '}' for f in FACTS)})"
    try:
        template.format(**dict.fromkeys(FACTS, "x"))
    except (ValueError, KeyError, IndexError, AttributeError, TypeError) as exc:
        return f"not a valid template ({exc})"
    return None
