"""The incident's rules (console/model/rules.py) and the record types (console/model/events.py)."""

from __future__ import annotations

from console.engine import Actor
from console.engine.commands import COMMANDS
from console.model import events, rules
from console.model.keymap import ACTING, ACTIONS, COMMAND_OF
from console.model.state import _HANDLERS, IncidentState


def test_every_record_type_the_fold_knows_is_a_constant():
    names = {v for k, v in vars(events).items() if k.isupper() and isinstance(v, str)}
    assert set(_HANDLERS) == names


def test_seat_rules():
    state = IncidentState(status="open", driver="ann")
    ann, bob, eve = Actor("ann", "driver"), Actor("bob", "driver"), Actor("eve", "observer")
    assert rules.is_driver(ann, state) and not rules.is_driver(bob, state) and not rules.is_driver(eve, state)
    assert rules.may_request_seat(bob, state) and not rules.may_request_seat(ann, state)
    assert not rules.may_request_seat(eve, state)
    assert rules.refusal(bob, state) == "bob does not hold the driver seat (driver: ann)"
    assert rules.refusal(bob, state, seat=False) == ""
    assert rules.refusal(eve, state, seat=False) == "observers watch only and cannot act"
    state.status = "closed"
    assert not rules.is_driver(ann, state) and rules.refusal(ann, state) == "incident is closed"


def test_commands_and_actions_agree():
    assert set(COMMANDS) >= rules.SEATLESS
    assert set(COMMAND_OF) <= set(ACTIONS) and set(COMMAND_OF.values()) <= set(COMMANDS)
    assert set(COMMAND_OF) == ACTING


def test_step_status_rules():
    assert [s for s in ("pending", "failed", "interrupted", "succeeded") if rules.retryable(s)] == [
        "failed",
        "interrupted",
    ]
    assert rules.settled("skipped") and not rules.settled("failed")
    assert not rules.skippable("running") and rules.skippable("failed")
