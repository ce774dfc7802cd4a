"""No record the engine writes may be one the state fold rejects (finding 14).

A comms template that could not be filled used to journal a ``step.warning`` for a step named
"comms": the fold raised KeyError on it, and resume and the report failed for good. Templates
are now checked when the runbook loads, a message that still cannot be filled journals its own
record, the engine checks a record against the fold before writing it, and one incident is
driven through every record type the engine writes, then folded from disk.
"""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime

import pytest
from conftest import ALICE, BOB, OLIVE, write_config, write_runbook
from test_comms import Receiver, with_slack
from test_comms import slack as slack  # the fixture

from actions.registry import KINDS
from console.engine import Engine
from console.engine.actor import Actor
from console.engine.preflight_table import GateResult, Line
from console.model import events
from console.model.activity import ActivityFeed
from console.model.clock import FrozenClock
from console.model.config import load_config
from console.model.errors import ActionError, CommandRefused, RunbookError, WarroomError
from console.model.journal import read_records
from console.model.plan import build_plan
from console.model.runbook import load_runbook
from console.model.state import fold
from console.report import build_report, render

STEPS = """
[[phases.steps]]
id = "verify"
title = "Verify"
kind = "manual"
checks = [{ id = "auth", text = "Login works" }]

[[phases.steps]]
id = "hello"
title = "Say hello"
kind = "ssh"
targets = "app"
commands = ["echo hello"]

[[phases.steps]]
id = "wait"
title = "Wait"
kind = "ssh"
targets = "app"
commands = ["sleep 30"]

[[phases.steps]]
id = "later"
title = "Later"
kind = "manual"
checks = [{ id = "done", text = "Done" }]
"""


def comms(template: str) -> str:
    return f"""
[[comms]]
id = "slack-ops"
at_minutes = 0
audience = "internal"
channel = "slack"
to = "#ops"
summary = "Slack alert to #ops"
template = {template!r}
"""


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("Incident {incident} is open", "unknown field {incident}"),
        ("ETA {eta.hour}", "unknown field {eta.hour}"),
        ("ETA {eta:d}", "not a valid template (Unknown format code 'd'"),
        ("ETA {eta", "not a valid template (expected '}'"),
    ],
)
def test_a_template_that_cannot_fill_is_a_one_line_runbook_error(tmp_path, template, problem):
    path = write_runbook(tmp_path / "rb.toml", STEPS + comms(template))
    with pytest.raises(RunbookError) as caught:
        load_runbook(path, KINDS)
    message = str(caught.value)
    assert "\n" not in message and "comms 'slack-ops': template: " in message and problem in message, message
    assert message.startswith(f"{path}:")


def test_a_template_of_known_fields_loads(tmp_path):
    template = "{incident_id} [{severity_label}] {phase}, ETA {eta:>10}; {{literal}}"
    load_runbook(write_runbook(tmp_path / "rb.toml", STEPS + comms(template)), KINDS)


def open_incident(tmp_path, lab, template: str = "{incident_id}") -> tuple[Engine, FrozenClock]:
    config = load_config(write_config(tmp_path / "config.toml", lab, ["h1"]))
    runbook = load_runbook(write_runbook(tmp_path / "rb.toml", STEPS + comms(template)), KINDS)
    plan = build_plan(runbook, config)
    clock = FrozenClock(datetime(2026, 11, 29, 3, 0, tzinfo=UTC))
    engine = Engine.open(tmp_path / "state", plan, ALICE, severity="P0", trigger="t", clock=clock, config=config)
    return engine, clock


def folds_from_disk(engine: Engine) -> None:
    records, _ = read_records(engine.journal.path, tolerate_torn_tail=True)
    state = fold(records)
    assert state.seq == engine.state.seq == records[-1]["seq"]


@pytest.mark.usefixtures("slack")
async def test_a_template_bad_in_an_older_plan_journals_its_own_record_and_the_incident_folds(tmp_path, lab):
    """A plan journaled before templates were checked (or built by other means) still sends."""
    engine, _ = open_incident(tmp_path, lab)
    engine.plan.comms[0]["template"] = "Incident {incident} is open"
    try:
        with_slack(engine)
        engine.take_seat(ALICE)
        outcome = await engine.send_comms(ALICE, "slack-ops")
        assert outcome.startswith("delivered via slack")
        assert Receiver.received[-1]["json"]["text"] == "Slack alert to #ops"
        [warning] = [r for r in engine.records if r["type"] == events.COMMS_WARNING]
        assert warning["data"]["comm"] == "slack-ops" and "incident" in warning["data"]["message"]
        assert not [r for r in engine.records if r["type"] == events.STEP_WARNING]
        folds_from_disk(engine)
        assert engine.state.comms_warnings[-1]["comm"] == "slack-ops"
    finally:
        await engine.aclose()
    resumed = Engine.resume(engine.directory, ALICE)
    await resumed.aclose()
    report = build_report(resumed.directory)
    assert "Slack alert to #ops" in render(report, "md")


async def test_a_record_the_fold_would_reject_is_never_written(tmp_path, lab):
    engine, _ = open_incident(tmp_path, lab)
    try:
        before = engine.journal.path.read_bytes()
        with pytest.raises(WarroomError, match="not journaled"):
            engine.step_warning("comms", 0, "slack", "a warning for a step that is not in the plan")
        assert engine.journal.path.read_bytes() == before
        folds_from_disk(engine)
    finally:
        await engine.aclose()


@pytest.mark.usefixtures("slack")
async def test_every_record_type_the_engine_writes_folds(tmp_path, lab, monkeypatch):
    engine, clock = open_incident(tmp_path, lab)
    directory = engine.directory
    try:
        failed = GateResult((Line("h1", "reach", "fail", "refused"),), hosts=("h1",))
        engine.record_preflight(ALICE, failed)  # started anyway (--force)
        gate = GateResult((Line("h1", "reach", "pass", "ok"),), hosts=("h1",))
        engine.record_preflight(ALICE, gate)
        connection = engine.join(BOB, "ssh")
        engine.leave(BOB, connection)
        engine.take_seat(ALICE)
        engine.request_seat(BOB)
        engine.hand_over(ALICE, BOB)
        engine.release_seat(BOB)
        engine.take_seat(ALICE)
        with pytest.raises(CommandRefused):
            engine.tick(OLIVE, "verify", "auth", "pass")  # observers cannot act (a note they may write)
        engine.tick(ALICE, "verify", "auth", "pass")
        engine.add_note(ALICE, "a note")
        engine.record_decision(ALICE, "rollback", "go")
        engine.change_severity(ALICE, "P1")
        assert await engine.run_step(ALICE, "hello") == "succeeded"
        engine.step_warning("hello", 1, "h1", "a warning of a step that ran")
        engine.skip_step(ALICE, "later", "not needed")
        with_slack(engine)
        await engine.send_comms(ALICE, "slack-ops")
        engine.plan.comms[0]["template"] = "{nope}"
        monkeypatch.setenv("TEST_SLACK_URL", "http://127.0.0.1:9/hooks/never")
        with pytest.raises(ActionError):
            await engine.send_comms(ALICE, "slack-ops")
        task = engine.start_step(ALICE, "wait")
        for _ in range(200):
            attempt = engine.state.steps["wait"].attempt
            if attempt is not None and attempt.remote:
                break
            await asyncio.sleep(0.05)
        engine.cancel_step(ALICE, "wait")
        await task
        clock.advance(hours=5)
        engine.check_deadlines()
        engine.retry_step(ALICE, "wait")
        await asyncio.sleep(0.5)
        crashed = tmp_path / "crashed" / directory.name  # the incident as a crash mid-step leaves it
        shutil.copytree(directory, crashed, ignore=shutil.ignore_patterns("*.lock", "lock"))
    finally:
        await engine.aclose()
    resumed = Engine.resume(crashed, Actor("carol", "driver"))
    try:
        resumed.take_seat(Actor("carol", "driver"))
        resumed.close(Actor("carol", "driver"), "resolved", "done")
    finally:
        await resumed.aclose()
    records, _ = read_records(crashed / "journal.jsonl", tolerate_torn_tail=True)
    fold(records)  # raises on a record it cannot apply
    written = {r["type"] for r in records}
    every = {v for k, v in vars(events).items() if k.isupper() and isinstance(v, str)}
    missing = every - written
    print(f"\nrecord types written and folded: {len(written)} of {len(every)}; not generated: {sorted(missing)}")
    assert missing == set(), f"drive {sorted(missing)} through the engine in this test"
    build_report(crashed)
    shown = {r["type"] for r in records if ActivityFeed().add(r) is not None or r["type"] == events.STEP_HOST_FINISHED}
    silent = written - shown  # what the activity pane (and the report's Activity) leave out, on purpose
    assert silent == {events.JOURNAL_CLOSED, events.STEP_REMOTE_STARTED}, silent
