"""The incident's rules (console/model/rules.py) and the record types (console/model/events.py)."""

from __future__ import annotations

import copy

from conftest import ALICE, BOB, OLIVE

from console.engine import Actor
from console.engine.commands import COMMANDS
from console.model import events, rules
from console.model.errors import CommandRefused
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
    assert set(COMMAND_OF) - {"note"} == ACTING  # a note needs no seat: anyone may write on the timeline


def test_step_status_rules():
    assert [s for s in ("pending", "failed", "interrupted", "succeeded") if rules.retryable(s)] == [
        "failed",
        "interrupted",
    ]
    assert rules.settled("skipped") and not rules.settled("failed")
    assert not rules.skippable("running") and rules.skippable("failed")


def test_problem_statuses_flag_a_phase_but_a_cancel_does_not():
    assert rules.ALARMING == ("failed", "timed_out", "interrupted")
    assert not rules.alarming("cancelled") and not rules.alarming("running") and rules.alarming("timed_out")


def _plan_state(engine, **statuses: str) -> IncidentState:
    """A copy of the engine's state with some step statuses forced (no step needs to run)."""
    state = copy.deepcopy(engine.state)
    for step_id, status in statuses.items():
        state.steps[step_id].status = status
    return state


def test_step_gates(engine):
    restore, verify = engine.plan.steps["restore"], engine.plan.steps["verify"]
    state = _plan_state(engine)
    assert rules.may_start(restore, state) and not rules.may_retry(restore, state)
    assert rules.start_refusal(verify, state) == "step verify is a manual checklist: tick its checks"
    assert not rules.may_cancel(state) and rules.may_close(state)
    state = _plan_state(engine, restore="running")
    assert not rules.may_start(restore, state) and rules.may_cancel(state) and not rules.may_close(state)
    assert rules.close_refusal(state) == "step restore is still running"
    assert rules.cancel_refusal("restore", state, held=False) == "step restore is not running"
    state = _plan_state(engine, restore="failed")
    assert rules.start_refusal(restore, state) == "step restore is failed; use retry"
    assert rules.may_retry(restore, state)
    state = _plan_state(engine, restore="succeeded")
    assert rules.retry_refusal(restore, state) == (
        "step restore is succeeded; only failed, cancelled, timed_out, interrupted steps can be retried"
    )
    assert rules.may_tick("pending") and not rules.may_tick("skipped")
    assert rules.tick_refusal("verify", "skipped") == "step verify was skipped"


def test_seat_candidates():
    state = IncidentState(status="open", driver="ann")
    state.seat_requests = [{"at": "", "by": "cid"}]
    state.presence = {
        "c1": {"name": "ann", "role": "driver"},
        "c2": {"name": "bob", "role": "driver"},
        "c3": {"name": "eve", "role": "observer"},
        "c4": {"name": "cid", "role": "driver"},
    }
    assert rules.seat_candidates(state, "ann") == ["cid", "bob"]
    assert rules.seat_candidates(state, "ann", {"cid": "observer", "bob": "driver"}) == ["bob"]
    assert rules.hand_over_refusal("ann", "eve", "observer") == "eve is an observer and cannot drive"
    assert rules.hand_over_refusal("ann", "ann", "driver") == "ann already drives"


def _refusal(attempt) -> str:
    """The reason the engine journaled for a refused command ("" when it was not refused)."""
    try:
        attempt()
    except CommandRefused as exc:
        return str(exc).split(": ", 1)[1]
    return ""


def test_the_ui_verdict_and_the_engine_refusal_agree(engine):
    """For the same state, a rule that greys a binding is the one the engine refuses by, word for word."""
    engine.take_seat(ALICE)
    restore, verify = engine.plan.steps["restore"], engine.plan.steps["verify"]
    assert not rules.may_start(verify, engine.state)
    assert _refusal(lambda: engine.start_step(ALICE, "verify")) == rules.start_refusal(verify, engine.state)
    assert not rules.may_retry(restore, engine.state)
    assert _refusal(lambda: engine.retry_step(ALICE, "restore")) == rules.retry_refusal(restore, engine.state)
    assert not rules.may_cancel(engine.state)
    assert _refusal(lambda: engine.cancel_step(ALICE, "restore")) == rules.cancel_refusal("restore", engine.state)
    assert rules.may_close(engine.state) and rules.may_start(restore, engine.state)
    engine.join(BOB, "ssh")
    engine.join(OLIVE, "ssh")
    assert rules.seat_candidates(engine.state, ALICE.name, engine.users) == ["bob"]
    assert _refusal(lambda: engine.hand_over(ALICE, OLIVE)) == rules.hand_over_refusal("alice", "olive", "observer")
    engine.skip_step(ALICE, "verify", "checked by the db team")
    status = engine.state.steps["verify"].status
    assert not rules.may_tick(status)
    assert _refusal(lambda: engine.tick(ALICE, "verify", "auth", "pass")) == rules.tick_refusal("verify", status)
    refused = [r["data"]["reason"] for r in engine.records if r["type"] == "command.refused"]
    assert refused[-1] == "step verify was skipped" and len(refused) == 5
    engine.hand_over(ALICE, BOB)
    assert engine.state.driver == "bob"
