"""The engine's rules without any host: roles, states, refusals journaled, state a fold of events."""

from __future__ import annotations

import json

import pytest
from conftest import ALICE, BOB, OLIVE

from console.engine import Engine
from console.model.errors import CommandRefused, IncidentError
from console.model.journal import verify
from console.model.state import fold


def records(engine: Engine) -> list[dict]:
    return [json.loads(line) for line in engine.journal.path.read_text().splitlines()]


def test_observer_cannot_act_and_the_refusal_is_journaled(engine):
    for attempt in (
        lambda: engine.take_seat(OLIVE),
        lambda: engine.tick(OLIVE, "verify", "auth", "pass"),
        lambda: engine.record_decision(OLIVE, "rollback", "I would restore now"),
        lambda: engine.start_step(OLIVE, "restore", confirm="restore"),
        lambda: engine.close(OLIVE),
    ):
        with pytest.raises(CommandRefused, match="observers watch only"):
            attempt()
    refused = [r for r in records(engine) if r["type"] == "command.refused"]
    assert len(refused) == 5
    assert {r["actor"] for r in refused} == {"olive"}
    assert all(r["role"] == "observer" for r in refused)
    assert engine.state.ticks == {}


def test_only_the_seat_holder_acts_and_the_seat_is_handed_over(engine):
    with pytest.raises(CommandRefused, match="does not hold the driver seat"):
        engine.record_decision(ALICE, "rollback", "not yet")
    engine.take_seat(ALICE)
    with pytest.raises(CommandRefused, match="held by alice"):
        engine.take_seat(BOB)
    with pytest.raises(CommandRefused, match="does not hold the driver seat"):
        engine.tick(BOB, "verify", "auth", "pass")
    with pytest.raises(CommandRefused, match="observer and cannot drive"):
        engine.hand_over(ALICE, OLIVE)
    engine.hand_over(ALICE, BOB)
    assert engine.state.driver == "bob"
    engine.tick(BOB, "verify", "auth", "pass", "logged in as a test user")
    with pytest.raises(CommandRefused):
        engine.tick(ALICE, "verify", "core", "pass")
    engine.release_seat(BOB)
    assert engine.state.driver is None
    assert [c["type"] for c in engine.state.seat_changes] == ["seat.taken", "seat.handed_over", "seat.released"]


def test_manual_checks_decide_the_manual_step(engine):
    engine.take_seat(ALICE)
    assert engine.state.step_status("verify") == "pending"
    engine.tick(ALICE, "verify", "auth", "pass", "ok")
    assert engine.state.step_status("verify") == "pending"
    engine.tick(ALICE, "verify", "core", "fail", "booking page 500s")
    assert engine.state.step_status("verify") == "failed"
    engine.tick(ALICE, "verify", "core", "na", "feature disabled")
    assert engine.state.step_status("verify") == "succeeded"
    tick = engine.state.ticks[("verify", "core")]
    assert (tick.result, tick.note, tick.by) == ("na", "feature disabled", "alice")
    with pytest.raises(CommandRefused, match="no check 'nope'"):
        engine.tick(ALICE, "verify", "nope", "pass")
    with pytest.raises(CommandRefused, match="pass, fail or na"):
        engine.tick(ALICE, "verify", "auth", "maybe")
    with pytest.raises(CommandRefused, match="manual checklist"):
        engine.start_step(ALICE, "verify")


def test_destructive_step_needs_its_confirmation_word(engine):
    engine.take_seat(ALICE)
    with pytest.raises(CommandRefused, match="type 'restore' to confirm"):
        engine.start_step(ALICE, "restore", confirm="yes")
    assert engine.state.steps["restore"].status == "pending"


def test_skip_needs_a_reason_and_unknown_steps_are_named(engine):
    engine.take_seat(ALICE)
    with pytest.raises(CommandRefused, match="needs a reason"):
        engine.skip_step(ALICE, "restore", "  ")
    engine.skip_step(ALICE, "restore", "database untouched by this release")
    assert engine.state.steps["restore"].status == "skipped"
    with pytest.raises(CommandRefused, match="is skipped"):
        engine.skip_step(ALICE, "restore", "again")
    with pytest.raises(CommandRefused, match="no step 'restor'"):
        engine.skip_step(ALICE, "restor", "typo")


def test_nothing_is_accepted_after_close_and_refusals_still_journaled(engine):
    engine.take_seat(ALICE)
    engine.record_comms(ALICE, "slack-ops", "posted in #ops")
    engine.add_note(ALICE, "rolled back by hand")
    with pytest.raises(CommandRefused, match="a close needs a summary"):
        engine.close(ALICE, "resolved", "   ")
    assert engine.state.status == "open"
    engine.close(ALICE, "resolved", "done")
    with pytest.raises(CommandRefused, match="incident is closed"):
        engine.tick(ALICE, "verify", "auth", "pass")
    last = records(engine)[-1]
    assert last["type"] == "command.refused" and last["data"]["command"] == "tick"
    assert engine.state.status == "closed"
    assert engine.state.comms["slack-ops"]["note"] == "posted in #ops"


def test_state_is_a_pure_fold_of_the_journal(engine):
    engine.take_seat(ALICE)
    engine.tick(ALICE, "verify", "auth", "pass", "ok")
    engine.skip_step(ALICE, "restore", "not needed")
    with pytest.raises(CommandRefused):
        engine.take_seat(BOB)
    engine.add_note(ALICE, "note")
    refolded = fold(verify(engine.journal.path))
    assert refolded == engine.state


def test_second_process_cannot_open_the_same_incident(engine):
    with pytest.raises(IncidentError, match="open in another warroom process"):
        Engine.resume(engine.directory, ALICE)


def test_rto_breach_is_journaled_once(engine):
    engine.check_deadlines()
    assert engine.state.breached_at == ""
    engine.clock.advance(minutes=15, seconds=1)
    engine.check_deadlines()
    engine.check_deadlines()
    breaches = [r for r in records(engine) if r["type"] == "rto.breached"]
    assert len(breaches) == 1
    assert breaches[0]["data"] == {"deadline": "2026-11-29T03:15:00.000Z", "rto_minutes": 15}
    assert breaches[0]["role"] == "system"
