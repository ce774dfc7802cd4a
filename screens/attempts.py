"""A key pressed by someone who may not act is still sent: the engine refuses it and journals the
refusal, so the journal and the report show every attempt (the footer shows the key disabled)."""

from __future__ import annotations

from typing import Any

from console.host.session import Session
from console.model import rules
from console.model.keymap import ACTING, COMMAND_OF

from .panes.checklist import Item

COMMAND_OF_ATTEMPT: dict[str, str] = {**COMMAND_OF, "request-seat": "request-seat", "export-report": "export"}
"""binding id -> the command a refused press sends."""
RESULTS = {"tick-pass": "pass", "tick-fail": "fail", "tick-na": "na"}


def refused_by_engine(binding_id: str, session: Session) -> bool:
    """The press goes to the engine to be refused there: an acting key of someone not driving, or
    an observer's seat or export key, while the incident is open (a closed one takes no attempts)."""
    if session.state.status != "open" or binding_id not in COMMAND_OF_ATTEMPT:
        return False
    if binding_id == "note":  # the one command an observer may send, when the config allows
        return not rules.may_note(session.actor, session.state)
    if binding_id in ACTING:
        return not session.is_driver
    return session.actor.role == "observer"


def attempt(
    binding_id: str, item: Item | None, next_step: str | None, running: str | None
) -> tuple[str, dict[str, Any]]:
    """The command and arguments a refused press sends: the selected item (else the next step), no
    prompt asked (the refusal comes before any of it would be read)."""
    command = COMMAND_OF_ATTEMPT[binding_id]
    step = item.step if item is not None and item.step else (next_step or "")
    check = (item.check or "") if item is not None and item.kind == "check" else ""
    running = running or ""
    args: dict[str, Any] = {
        "start": {"step": step},
        "retry": {"step": step},
        "cancel": {"step": running or step},
        "skip": {"step": step, "reason": ""},
        "tick": {"step": step, "check": check, "result": RESULTS.get(binding_id, "")},
        "note": {"text": ""},
        "comms": {"comm": ""},
    }.get(command, {})
    return command, args
