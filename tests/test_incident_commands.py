"""``warroom tick | note | comms | close`` from the command line: on a running incident through its
attach socket (``warroom serve``, a headless run), on a stopped one through its journal under the
lock; both through the engine's command path, so its rules, refusals and journal are the same."""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import write_config
from incident_command_support import of_type, records, runbook, warroom
from serve_support import ServedWarRoom, keygen, server_users

from console.model.incident_dir import lock

pytestmark = pytest.mark.sshd
USERS = {"alice": "driver", "olive": "observer"}


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("keys")
    for name in USERS:
        keygen(folder / name, name)
    return folder


def config(tmp_path: Path, lab, keys: Path, server: str = "") -> Path:
    extra = f"\n[server]\n{server}\n{server_users(keys, USERS)}"
    return write_config(tmp_path / "config.toml", lab, ["h1"], extra=extra)


def seat_changes(journal: Path) -> list[tuple[str, str]]:
    return [(r["type"], r["actor"]) for r in records(journal) if r["type"].startswith("seat.")]


# ----- a stopped incident: through its journal, under the lock ----------------------------------------
@pytest.fixture
def stopped(tmp_path, lab, keys) -> tuple[Path, Path, str]:
    """(config, journal, incident id) of an incident whose headless run ended with its checks open."""
    cfg = config(tmp_path, lab, keys)
    run = warroom("run", "-c", str(cfg), "--runbook", str(runbook(tmp_path / "rb.toml")), "--headless", "--as", "ops")
    assert run.returncode == 0, run.stdout + run.stderr
    [directory] = (tmp_path / "state" / "incidents").iterdir()
    return cfg, directory / "journal.jsonl", directory.name


def test_stopped_incident_ticked_noted_recorded_and_closed_through_its_journal(stopped, tmp_path):
    cfg, journal, incident = stopped
    tick = warroom("tick", incident, "verify", "auth", "pass", "--note", "logged in", "-c", str(cfg), "--as", "dana")
    assert tick.returncode == 0, tick.stderr
    assert (
        tick.stdout
        == f"incident {incident}: verify/auth ticked pass by dana (driver), through its journal (not running)\n"
    )
    [ticked] = of_type(journal, "check.ticked")
    assert (ticked["actor"], ticked["role"]) == ("dana", "driver")
    assert ticked["data"] == {"step": "verify", "check": "auth", "result": "pass", "note": "logged in"}
    assert of_type(journal, "incident.resumed")[-1]["actor"] == "dana"
    assert seat_changes(journal)[-2:] == [("seat.taken", "dana"), ("seat.released", "dana")]

    # found by --state-dir alone, as the login name
    note = warroom("note", incident, "restored from the 02:00 dump", "--state-dir", str(tmp_path / "state"))
    assert note.returncode == 0, note.stderr
    [noted] = of_type(journal, "note.added")
    assert (noted["actor"], noted["data"]["text"]) == (getpass.getuser(), "restored from the 02:00 dump")

    sent = warroom(
        "comms", incident, "status-page", "--sent", "--note", "posted by hand", "-c", str(cfg), "--as", "dana"
    )
    assert sent.returncode == 0, sent.stderr
    [comm] = of_type(journal, "comms.sent")
    assert comm["actor"] == "dana"
    assert comm["data"]["comm"] == "status-page" and comm["data"]["result"] == "recorded as sent"

    blank = warroom("close", incident, "resolved", "--summary", "  ", "-c", str(cfg))
    assert blank.returncode == 2 and "close needs --summary TEXT" in blank.stderr
    closed = warroom(
        "close", incident, "resolved", "--summary", "rolled back to v0.9.0", "-c", str(cfg), "--as", "dana"
    )
    assert closed.returncode == 0, closed.stderr
    [close] = of_type(journal, "incident.closed")
    assert close["actor"] == "dana" and close["data"] == {"outcome": "resolved", "summary": "rolled back to v0.9.0"}
    assert warroom("journal", "verify", incident, "-c", str(cfg)).returncode == 0
    assert "closed" in warroom("incidents", "-c", str(cfg)).stdout

    late = warroom("note", incident, "one more thing", "-c", str(cfg), "--as", "dana")
    assert late.returncode == 1
    assert late.stderr.strip() == "warroom: Refused: note refused for dana: incident is closed"


def test_stopped_incident_refuses_an_observer_and_unknown_ids(stopped):
    cfg, journal, incident = stopped
    before = len(records(journal))
    for args, message in [
        (("tick", incident, "verfiy", "auth", "pass"), "has no step 'verfiy' with checks (steps: verify)"),
        (("tick", incident, "verify", "login", "pass"), "step verify has no check 'login' (checks: auth, booking)"),
        (("comms", incident, "slack", "--sent"), "has no message 'slack' (messages: slack-ops, status-page)"),
    ]:
        result = warroom(*args, "-c", str(cfg))
        assert result.returncode == 2, result.stderr
        assert message in result.stderr and result.stderr.count("\n") == 1
    send = warroom("comms", incident, "slack-ops", "--send", "--state-dir", str(cfg.parent / "state"))
    assert send.returncode == 2 and "needs -c CONFIG" in send.stderr
    assert len(records(journal)) == before  # nothing was written for a typo

    observer = warroom("tick", incident, "verify", "auth", "pass", "-c", str(cfg), "--as", "olive")
    assert observer.returncode == 1
    assert observer.stderr.strip() == "warroom: Refused: tick refused for olive: observers watch only and cannot act"
    [refused] = of_type(journal, "command.refused")
    assert (refused["actor"], refused["role"], refused["data"]["command"]) == ("olive", "observer", "tick")
    note = warroom("note", incident, "I can see it", "-c", str(cfg), "--as", "olive")
    assert note.returncode == 0, note.stderr  # a note is the one thing an observer may do (observers_may_note)
    [noted] = of_type(journal, "note.added")
    assert (noted["actor"], noted["role"], noted["data"]["text"]) == ("olive", "observer", "I can see it")


def test_stopped_incident_locked_by_a_live_process_without_a_socket_is_refused(stopped):
    cfg, journal, incident = stopped
    before = journal.read_bytes()
    fd = lock(journal.parent, incident)  # this test process holds it, serving nothing
    try:
        result = warroom("note", incident, "anyone there?", "-c", str(cfg))
    finally:
        os.close(fd)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"warroom: Incident error: incident {incident} is open in another warroom process (pid {os.getpid()}), "
        "which serves no attach socket: send the command from that process's console, or wait until it stops"
    )
    assert journal.read_bytes() == before


def test_a_secret_typed_into_a_note_is_masked_in_the_journal(tmp_path, lab, keys):
    secret = {"WR_TEST_STATUS_URL": "https://status.example/hook/s3cr3t-T0KEN"}
    cfg = config(tmp_path, lab, keys, server='seat_grace = 1\n\n[notify.statuspage]\nurl = "env:WR_TEST_STATUS_URL"')
    run = warroom("run", "-c", str(cfg), "--runbook", str(runbook(tmp_path / "rb.toml")), "--headless", env=secret)
    assert run.returncode == 0, run.stderr
    [directory] = (tmp_path / "state" / "incidents").iterdir()
    note = warroom(
        "note", directory.name, "hook was https://status.example/hook/s3cr3t-T0KEN", "-c", str(cfg), env=secret
    )
    assert note.returncode == 0, note.stderr
    journal = (directory / "journal.jsonl").read_text()
    assert "s3cr3t-T0KEN" not in journal and "s3cr3t-T0KEN" not in note.stdout + note.stderr
    assert of_type(directory / "journal.jsonl", "note.added")[0]["data"]["text"].startswith("hook was ")


# ----- a running incident: through its socket ---------------------------------------------------------
def test_served_incident_gets_commands_through_its_socket_as_the_named_user(tmp_path, lab, keys):
    cfg = config(tmp_path, lab, keys)
    room = ServedWarRoom(tmp_path, keys, cfg, runbook(tmp_path / "rb.toml"), args=("--as", "ops"))
    try:
        incident, journal = room.incident, room.journal
        tick = warroom(
            "tick", incident, "verify", "booking", "fail", "--note", "500 on /book", "-c", str(cfg), "--as", "ops"
        )
        assert tick.returncode == 0, tick.stderr
        assert "verify/booking ticked fail by ops (driver), through its running engine" in tick.stdout
        ticked = room.wait_record(lambda r: r["type"] == "check.ticked")
        assert (ticked["actor"], ticked["data"]["result"], ticked["data"]["note"]) == ("ops", "fail", "500 on /book")
        assert seat_changes(journal) == [("seat.taken", "ops"), ("seat.released", "ops")]
        joined = of_type(journal, "presence.joined")
        assert [(r["actor"], r["data"]["via"]) for r in joined] == [("ops", "cli")]
        assert not of_type(journal, "incident.resumed")  # the serving engine took it; nothing was resumed

        sent = warroom("comms", incident, "slack-ops", "--sent", "-c", str(cfg), "--as", "alice")
        assert sent.returncode == 0, sent.stderr
        assert room.wait_record(lambda r: r["type"] == "comms.sent")["actor"] == "alice"

        observer = warroom("tick", incident, "verify", "auth", "pass", "-c", str(cfg), "--as", "olive")
        assert observer.returncode == 1
        assert (
            observer.stderr.strip() == "warroom: Refused: tick refused for olive: observers watch only and cannot act"
        )
        refused = room.wait_record(lambda r: r["type"] == "command.refused")
        assert (refused["actor"], refused["role"]) == ("olive", "observer")

        stranger = warroom("note", incident, "hello", "-c", str(cfg), "--as", "eve")
        assert stranger.returncode == 1
        assert "eve is not a user of this incident (drivers: alice, ops)" in stranger.stderr
        assert stranger.stderr.count("\n") == 1

        closed = warroom("close", incident, "aborted", "--summary", "rolled forward instead", "-c", str(cfg))
        assert closed.returncode == 1  # the login name is not a user of this served incident
        closed = warroom(
            "close", incident, "aborted", "--summary", "rolled forward instead", "-c", str(cfg), "--as", "ops"
        )
        assert closed.returncode == 0, closed.stderr
        close = room.wait_record(lambda r: r["type"] == "incident.closed")
        assert close["actor"] == "ops" and close["data"]["outcome"] == "aborted"
        assert room.process.poll() is None  # still serving: the command went through its engine
        assert not of_type(journal, "note.added")
    finally:
        room.stop()


def test_a_command_during_a_headless_run_leaves_its_driver_the_seat(tmp_path, lab, keys):
    cfg = config(tmp_path, lab, keys, server="seat_grace = 0")  # a wrongly dropped seat would stop the run
    rb = runbook(tmp_path / "rb.toml", slow=True)
    run = subprocess.Popen(
        [sys.executable, "-m", "console.cli", "run", "-c", str(cfg), "--runbook", str(rb), "--headless", "--as", "ops"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        journal = _wait_running(tmp_path / "state" / "incidents", "slow")
        incident = journal.parent.name
        note = warroom("note", incident, "restore is slow today", "-c", str(cfg), "--as", "ops")
        assert note.returncode == 0, note.stderr
        assert "note added by ops (driver), through its running engine" in note.stdout
        other = warroom("tick", incident, "verify", "auth", "pass", "-c", str(cfg), "--as", "alice")
        assert other.returncode == 1  # a driver-eligible user, but the seat is the headless run's
        assert other.stderr.strip() == (
            "warroom: Refused: tick refused for alice: alice does not hold the driver seat (driver: ops)"
        )
        out, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, out + err
    assert "✓ after succeeded" in out
    [noted] = of_type(journal, "note.added")
    assert noted["actor"] == "ops"
    assert not of_type(journal, "check.ticked")
    assert seat_changes(journal) == [("seat.taken", "ops")]  # never taken back nor handed around


def _wait_running(incidents: Path, step: str, timeout: float = 20) -> Path:
    """The journal of the one incident once ``step`` started and its socket is served."""
    deadline = time.monotonic() + timeout
    while True:
        for directory in incidents.glob("*"):
            journal = directory / "journal.jsonl"
            served = (directory / "attach.path").exists() and journal.exists()
            if served and any(r["type"] == "step.started" and r["data"]["step"] == step for r in records(journal)):
                return journal
        assert time.monotonic() < deadline, f"step {step} never started"
        time.sleep(0.05)
