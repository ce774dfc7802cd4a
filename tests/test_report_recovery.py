"""The report of an incident that crashed, resumed, is still live or whose records were tampered with."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from report_support import ALICE, FIXTURE, T0, copy_fixture, reports, validate

from console.cli import main
from console.engine import Engine
from console.model.clock import FrozenClock
from console.model.errors import JournalCorrupt
from console.model.journal import Journal
from console.model.secrets import Redactor
from console.report import build_report
from console.report.model import build
from console.report.outputs import excerpt

# ----- crashed, resumed, live, corrupt -----------------------------------------------------------


def crashed_copy(target: Path, torn: int = 40) -> Path:
    """The fixture cut off just after the retry of restore-db started, with a torn record after it."""
    target.mkdir(parents=True)
    shutil.copytree(FIXTURE / "outputs", target / "outputs")
    lines = (FIXTURE / "journal.jsonl").read_bytes().splitlines(keepends=True)
    cut = next(
        i
        for i, line in enumerate(lines)
        if json.loads(line)["type"] == "step.started" and json.loads(line)["data"]["attempt"] == 2
    )
    (target / "journal.jsonl").write_bytes(b"".join(lines[: cut + 1]) + lines[cut + 1][:torn])
    return target


def test_a_crashed_incident_is_marked_and_still_reported(tmp_path):
    incident = crashed_copy(tmp_path / "crashed")
    found = reports(incident)
    data = validate(found["json"])
    assert data["incident"]["status"] == "crashed"
    assert data["incident"]["marking"] == "CRASHED — step restore-db interrupted, outcome unknown"
    assert data["journal"]["torn_tail_bytes"] == 40
    restore = next(s for s in data["steps"] if s["id"] == "restore-db")
    assert restore["status_text"] == "CRASHED while running — outcome unknown"
    attempt = restore["attempts"][-1]
    assert attempt["outcome"] == "unknown" and attempt["hosts"][0]["status"] == "unknown"
    assert attempt["hosts"][0]["output"]["check"] == "partial"
    assert data["rpo"]["text"] == "no backup age recorded"
    assert data["rto"]["verdict"] == "open" and data["times"]["closed_at"] == ""
    for fmt in ("md", "html"):
        assert "CRASHED — step restore-db interrupted, outcome unknown" in found[fmt]
        assert "torn record (40 bytes" in found[fmt]
    assert reports(incident) == found


async def test_a_resumed_incident_shows_the_interruption_and_the_torn_record(tmp_path):
    incident = crashed_copy(tmp_path / "crashed")
    engine = Engine.resume(incident, ALICE, clock=FrozenClock(T0 + timedelta(minutes=40)))
    await engine.aclose()
    data = validate(reports(incident)["json"])
    assert data["incident"]["marking"] == "OPEN — still in progress"
    restore = next(s for s in data["steps"] if s["id"] == "restore-db")
    assert restore["status_text"] == "interrupted — outcome unknown"
    [aside] = data["journal"]["torn_records_set_aside"]
    assert aside["bytes"] == 40 and aside["saved_as"].startswith("journal.jsonl.torn-")
    assert "a torn record of 40 bytes was set aside as journal.jsonl.torn-" in reports(incident)["md"]
    assert data["rto"]["verdict"] == "missed"  # resumed at T+40, past the deadline, still open


def test_a_step_running_in_a_live_process_is_not_called_a_crash(tmp_path):
    incident = crashed_copy(tmp_path / "live", torn=0)
    fd = os.open(incident / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        marking = build_report(incident)["incident"]["marking"]
    finally:
        os.close(fd)
    assert marking == "OPEN — still in progress (step restore-db running)"
    assert build_report(incident)["incident"]["status"] == "crashed"


def test_a_corrupt_journal_is_one_line_naming_the_record(tmp_path, capsys):
    incident = copy_fixture(tmp_path / "corrupt")
    lines = (incident / "journal.jsonl").read_text().splitlines(keepends=True)
    lines[4] = lines[4].replace('"alice"', '"mallory"', 1)
    (incident / "journal.jsonl").write_text("".join(lines))
    with pytest.raises(JournalCorrupt, match="record 5: checksum mismatch"):
        build_report(incident)
    assert main(["report", str(incident)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Journal corrupt" in err and "record 5" in err


def test_an_output_changed_after_the_fact_is_flagged(tmp_path):
    incident = copy_fixture(tmp_path / "tampered")
    with (incident / "outputs" / "maintenance-on" / "1" / "h1.log").open("a") as log:
        log.write("all good, nothing to see\n")
    (incident / "outputs" / "checkout" / "1" / "h2.log").unlink()
    found = reports(incident)
    data = validate(found["json"])
    outputs = {(s["id"], h["host"]): h["output"] for s in data["steps"] for a in s["attempts"] for h in a["hosts"]}
    assert outputs[("maintenance-on", "h1")]["check"] == "mismatch"
    assert outputs[("maintenance-on", "h2")]["check"] == "ok"
    assert outputs[("checkout", "h2")]["check"] == "missing"
    for fmt in ("md", "html"):
        assert "CHECKSUM MISMATCH" in found[fmt] and "outputs/checkout/1/h2.log is missing" in found[fmt]


@pytest.mark.parametrize(
    ("content", "head", "tail", "omitted"),
    [
        (b"", [], [], 0),
        (b"no newline at the end", ["no newline at the end"], [], 0),
        (b"".join(b"%d\n" % i for i in range(25)), [str(i) for i in range(10)], [str(i) for i in range(15, 25)], 5),
        ((b"x" * 100_000 + b"\n") * 3, ["x" * 240 + " …"], ["x" * 240 + " …"], 1),
    ],
)
def test_excerpts_keep_the_first_and_last_lines_of_any_file(tmp_path, content, head, tail, omitted):
    (tmp_path / "out.log").write_bytes(content)
    found = excerpt(tmp_path, "out.log", {"bytes": len(content), "sha256": hashlib.sha256(content).hexdigest()})
    assert (found["head"], found["tail"], found["omitted_lines"], found["check"]) == (head, tail, omitted, "ok")
    assert found["total_lines"] == len(head) + len(tail) + omitted


def test_presence_events_name_who_watched(tmp_path):
    incident = copy_fixture(tmp_path / "presence")
    journal, _, _ = Journal.open(incident / "journal.jsonl", Redactor())
    ts = "2026-11-29T03:27:10.000Z"
    journal.append("presence.joined", {"connection": "c1", "via": "ssh"}, actor="carol", role="observer", ts=ts)
    journal.append("presence.left", {"connection": "c1"}, actor="carol", role="observer", ts=ts)
    journal.close()
    data = validate(reports(incident)["json"])
    assert data["people"]["observers"] == ["olive", "carol"]
    assert [(p["name"], p["event"], p["via"]) for p in data["people"]["presence"]] == [
        ("carol", "joined", "ssh"),
        ("carol", "left", "ssh"),
    ]
    assert "carol joined (observer, via ssh)" in reports(incident)["md"]


def test_rpo_reads_the_facts_the_typed_restore_kinds_record():
    records = [json.loads(line) for line in (FIXTURE / "journal.jsonl").read_text().splitlines()]
    mysql = {
        "operation": "restore",
        "backup": {"name": "2026-11-29-02-30-00.zip", "mtime": "2026-11-29T02:30:00Z", "age_seconds": 2580},
        "restored": True,
    }
    for record in records:
        if record["type"] == "step.host_finished" and record["data"]["step"] == "restore-db":
            record["data"]["result"]["facts"] = mysql | {"restored": record["data"]["attempt"] == 2}
        if record["type"] == "step.host_finished" and record["data"]["step"] == "checkout":
            record["data"]["result"]["facts"] = {"archive": "storage_backup.tar.gz", "archive_files": 12}
    rpo = build(records, lambda path, result: excerpt(FIXTURE, path, result))["rpo"]
    restore = [b for b in rpo["backups"] if b["step"] == "restore-db"]
    assert [b["restored"] for b in restore] == [False, True]  # the failed attempt restored nothing
    assert (restore[1]["verdict"], restore[1]["age_seconds"], restore[1]["scope"]) == ("met", 2580, "Data Loss")
    assert rpo["text"].startswith("2026-11-29-02-30-00.zip restored by restore-db on h1: 43 min old, within")
    storage = [b for b in rpo["backups"] if b["step"] == "checkout"]
    assert [(b["name"], b["age_seconds"], b["verdict"]) for b in storage] == [
        ("storage_backup.tar.gz", None, "unknown")
    ] * 2
