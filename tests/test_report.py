"""The incident report: golden files of all three formats, secrets, control sequences and HTML.

The golden fixture (``tests/golden/report/incident/``) is a real incident recorded through the
engine against two real sshd hosts with a frozen clock, then normalised (temporary paths, ports,
pids and measured durations made fixed, the chain re-hashed). ``test_the_fixture_is_what_the_engine_records``
records it afresh each run and checks its reports against the goldens. To regenerate fixture and
goldens after an intended change: ``WARROOM_UPDATE_GOLDEN=1 pytest tests/test_report.py``.
"""

from __future__ import annotations

import shutil
import uuid

import pytest
from conftest import REPO, declare, ssh_step, write_config, write_runbook
from report_support import (
    ALICE,
    FIXTURE,
    GOLDEN,
    UPDATE,
    Tags,
    copy_fixture,
    golden,
    normalise,
    outside_fences,
    record_incident,
    reports,
    validate,
)

from actions.registry import KINDS
from console.cli import main
from console.engine import Engine
from console.model.config import load_config
from console.model.journal import Journal
from console.model.plan import build_plan
from console.model.runbook import load_runbook
from console.model.secrets import Redactor
from console.report import FORMATS, build_report, render

# ----- golden files ---------------------------------------------------------------------------


@pytest.mark.sshd
async def test_the_fixture_is_what_the_engine_records(tmp_path, lab):
    incident = await record_incident(tmp_path, lab)
    normalise(incident, tmp_path)
    found = reports(incident)
    if UPDATE:
        shutil.rmtree(FIXTURE, ignore_errors=True)
        shutil.copytree(incident, FIXTURE)
        for fmt, text in found.items():
            (GOLDEN / f"report.{fmt}").write_bytes(text.encode("utf-8"))
    assert found == {fmt: golden(fmt) for fmt in FORMATS}


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_golden_report(fmt):
    text = render(build_report(FIXTURE), fmt)
    if UPDATE:
        (GOLDEN / f"report.{fmt}").write_bytes(text.encode("utf-8"))
    assert text == golden(fmt)


def test_same_journal_same_bytes_and_anywhere(tmp_path):
    first = reports(FIXTURE)
    assert reports(FIXTURE) == first
    elsewhere = copy_fixture(tmp_path / "another" / "machine" / "incident")
    assert reports(elsewhere) == first
    for text in first.values():
        assert str(REPO) not in text and str(tmp_path) not in text


def test_golden_content_covers_the_incident():
    data = validate(golden("json"))
    md = golden("md")
    assert data["incident"]["marking"] == "CLOSED — resolved"
    severity = data["severity"]
    assert (severity["level"], severity["initial"], severity["rto_minutes"]) == ("P0", "P1", 30)
    assert severity["changes"][0]["reason"] == "card payments fail for every customer"
    assert data["people"]["drivers"] == ["alice", "bob"]
    assert data["people"]["observers"] == ["olive"]
    assert data["rto"]["verdict"] == "missed" and data["rto"]["breached_at"] == "2026-11-29T03:22:30.000Z"
    assert data["rto"]["actual_seconds"] == 35 * 60  # detected 8 min before the opening, closed at T+27
    [backup] = data["rpo"]["backups"]
    assert backup["age_seconds"] == 75 * 60 and backup["verdict"] == "missed" and backup["scope"] == "Data Loss"
    verdicts = [p["verdict"] for p in data["phases"]]
    assert verdicts == ["within window", "over window by 2:30", "within window", "within window"]
    restore = next(s for s in data["steps"] if s["id"] == "restore-db")
    first, second = restore["attempts"]
    assert (first["outcome"], first["hosts"][0]["exit_code"], first["started_by"]) == ("failed", 2, "alice")
    assert (second["outcome"], second["started_by"], second["duration_seconds"]) == ("succeeded", "bob", 270)
    output = second["hosts"][0]["output"]
    assert output["check"] == "ok" and output["omitted_lines"] == 7 and len(output["head"]) == 10
    assert output["tail"][-1] == "restore complete: 24 tables"
    # due times count from detection (02:52): the T+0 alert went out at 03:01, the T+15 e-mail at 03:06
    assert [c["status"] for c in data["comms"]] == ["sent late", "sent", "missed", "not triggered"]
    assert data["comms"][0]["late_by"] == "9:00"
    assert [t["result"] for t in data["ticks"]] == ["pass", "pass", "pass", "fail", "pass", "na"]
    assert data["skipped"][0]["reason"] == "uploads were not touched by 3.2.0"
    assert data["refusals"][0]["by"] == "olive" and data["refusals"][0]["command"] == "tick"
    assert data["notes"][0]["by"] == "olive"  # an observer's note is on the timeline, the tick refused
    shown = [(a["who"], a["kind"], a["text"]) for a in data["activity"]]
    assert ("olive (observer)", "note", "note: should we not wait for the payment provider?") in shown
    assert ("bob", "step", "restore-db succeeded on h1 in 4:30") in shown
    assert "| 03:04:00 (T+4:00) | olive (observer) | note: should we not wait for the payment provider? |" in md
    assert "75 min old" in data["warnings"][0]["message"]
    assert "- [ ] **Root Cause Analysis**" in md and "  - [ ] Identify failure point" in md
    assert "\n````text\n" in md  # the output holds ``` so its fence is longer


# ----- secrets, control sequences, HTML ---------------------------------------------------------


@pytest.mark.sshd
async def test_secrets_never_reach_any_format_and_remote_markup_stays_text(tmp_path, lab, monkeypatch, capsys):
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    monkeypatch.setenv("REPORT_DB_PASSWORD", secret)
    extra = '[vars.database]\npassword = "env:REPORT_DB_PASSWORD"\n'
    steps = ssh_step(
        "leaky",
        'echo "password is $MYSQL_PWD"',
        'echo "MYSQL_PWD=$MYSQL_PWD"',
        'echo "token=abc123secret"',
        # built at run time: a runbook command with credentials in a URL is refused at plan time
        'echo "cloning https://deploy:$(printf hunter%s 2pass)@git.example.com/shop.git"',
        'echo "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"',
        'echo "<script>alert(1)</script>"',
        'printf "\\033[2J\\033]0;pwned\\007after-escape\\n"',
        extra='secret_env = { MYSQL_PWD = "database.password" }\n',
    )
    config_path = write_config(tmp_path / "config.toml", lab, ["h1"], extra=extra)
    config = load_config(config_path)
    runbook = write_runbook(tmp_path / "runbook.toml", steps, variables=declare(database__password="secret"))
    plan = build_plan(load_runbook(runbook, KINDS), config)
    engine = Engine.open(tmp_path / "state", plan, ALICE, severity="P0", trigger="test", config=config)
    try:
        engine.take_seat(ALICE)
        assert await engine.run_step(ALICE, "leaky") == "succeeded"
        engine.add_note(ALICE, "db password=notes-secret-77, vault https://ops:notes-pass-88@vault.example.com")
    finally:
        await engine.aclose()
    found = reports(engine.directory)
    assert main(["report", str(engine.directory), "-c", str(config_path), "--format", "md"]) == 0
    found["cli"] = capsys.readouterr().out
    leaks = (secret, "abc123secret", "hunter2pass", "eyJhbGciOiJIUzI1NiJ9", "notes-secret-77", "notes-pass-88")
    for fmt, text in found.items():
        for leak in leaks:
            assert leak not in text, f"{leak} in {fmt}"
        assert "\x1b" not in text and "\x07" not in text, fmt
        assert "^[[2J^[]0;pwned^Gafter-escape" in text, fmt
    assert "<script" not in found["html"] and "&lt;script&gt;alert(1)&lt;/script&gt;" in found["html"]
    assert "<script" not in outside_fences(found["md"]) and "<script>alert(1)</script>" in found["md"]
    assert "<script" not in found["json"]
    lines = validate(found["json"])["steps"][0]["attempts"][0]["hosts"][0]["output"]["head"]
    assert "<script>alert(1)</script>" in lines
    assert "token=********" in lines and "cloning https://********@git.example.com/shop.git" in lines


def test_html_is_one_self_contained_printable_file():
    page = golden("html")
    parser = Tags()
    parser.feed(page)
    tags = {tag for tag, _ in parser.tags}
    assert not tags & {"script", "link", "img", "iframe", "object", "embed", "base"}
    for _, attrs in parser.tags:
        assert not [a for a in attrs if a.startswith("on") or a in ("src", "href")], attrs
    assert "@media print" in page and "Content-Security-Policy" in page
    planned = [attrs for tag, attrs in parser.tags if tag == "rect" and attrs.get("class") == "planned"]
    assert len(planned) == 4 + 1  # one window per phase, and the legend
    assert "&lt;b&gt;tags&lt;/b&gt;" in page and "<b>" not in page


def test_a_config_secret_is_masked_even_when_the_journal_holds_it(tmp_path, monkeypatch, capsys):
    incident = copy_fixture(tmp_path / "incident")
    journal, _, _ = Journal.open(incident / "journal.jsonl", Redactor())
    journal.append(
        "note.added",
        {"text": "the old db secret was Xyz-Planted-9"},
        actor="bob",
        role="driver",
        ts="2026-11-29T03:27:30.000Z",
    )
    journal.close()
    known = tmp_path / "known_hosts"
    known.write_text("")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[environment]\nname = "t"\n\n[hosts.h1]\naddress = "127.0.0.1"\nuser = "root"\nknown_hosts = "{known}"\n\n'
        '[vars.database]\npassword = "env:PLANTED_PASSWORD"\n'
    )
    monkeypatch.setenv("PLANTED_PASSWORD", "Xyz-Planted-9")
    assert "Xyz-Planted-9" in render(build_report(incident), "md")  # the report only knows what it is told
    assert main(["report", str(incident), "-c", str(config), "--format", "html"]) == 0
    out = capsys.readouterr().out
    assert "Xyz-Planted-9" not in out and "the old db secret was ********" in out
