"""The incident report: golden files of all three formats, secrets, crashes, schema and CLI.

The golden fixture (``tests/golden/report/incident/``) is a real incident recorded through the
engine against two real sshd hosts with a frozen clock, then normalised (temporary paths, ports,
pids and measured durations made fixed, the chain re-hashed). ``test_the_fixture_is_what_the_engine_records``
records it afresh each run and checks its reports against the goldens. To regenerate fixture and
goldens after an intended change: ``WARROOM_UPDATE_GOLDEN=1 pytest tests/test_report.py``.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import pytest
from conftest import REPO, ssh_step, write_config, write_runbook

from actions.registry import KINDS
from console.cli import main
from console.engine import Actor, Engine
from console.model.clock import FrozenClock, iso
from console.model.config import load_config
from console.model.errors import CommandRefused, JournalCorrupt
from console.model.journal import GENESIS, Journal, canonical, record_hash
from console.model.plan import build_plan
from console.model.runbook import load_runbook
from console.model.secrets import Redactor
from console.report import FORMATS, build_report, export_all, render
from console.report.json_format import schema
from console.report.model import build
from console.report.outputs import excerpt

GOLDEN = REPO / "tests" / "golden" / "report"
FIXTURE = GOLDEN / "incident"
UPDATE = os.environ.get("WARROOM_UPDATE_GOLDEN") == "1"
INCIDENT_ID = "20261129-030000-shop"
T0 = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
ALICE = Actor("alice", "driver")
BOB = Actor("bob", "driver")
OLIVE = Actor("olive", "observer")
BACKUP = {"backup": "shop-2026-11-29-0158.sql.gz", "backup_created_at": "2026-11-29T01:58:00Z"}

RUNBOOK = """\
triggers = ["Checkout error rate above 5%", "Data corruption or loss"]

[runbook]
id = "shopapp"
title = "ShopApp 3.2 rollback"
version = "3.2.0"
source = "Release 3.2 rollback plan"

[severity.P0]
label = "Critical"
response_minutes = 5
rollback = "yes"
rto_minutes = 30

[severity.P1]
label = "High"
response_minutes = 15
rollback = "maybe"
rto_minutes = 60

[[rpo]]
scope = "Data Loss"
target_minutes = 60
basis = "hourly database backups"

[[rpo]]
scope = "File Storage"
target_minutes = 240
basis = "4-hourly snapshots"

[[phases]]
id = "respond"
title = "Immediate Response"
start_minute = 0
end_minute = 5

[[phases.steps]]
id = "maintenance-on"
title = "Maintenance mode on"
kind = "ssh"
targets = "app"
commands = ['echo "maintenance mode on: 503 for every request"']

[[phases.steps]]
id = "notify"
title = "Notify stakeholders"
kind = "manual"
checks = [
  { id = "alert-team", text = "Alert the on-call team" },
  { id = "status-page", text = "Update the status page" },
]

[[phases]]
id = "restore"
title = "Database Rollback"
start_minute = 5
end_minute = 15

[[phases.steps]]
id = "restore-db"
title = "Restore the database"
kind = "ssh-restore"
targets = "app"
run_on = "one"
destructive = true
confirm = "restore"
timeout = 60
commands = [
  'if [ ! -e "$HOSTDIR/grant-fixed" ]; then echo "ERROR 1045 (28000): Access denied for user shop"; exit 2; fi',
  'echo "restoring shop-2026-11-29-0158.sql.gz"',
  'for t in $(seq 1 24); do echo "table shop_$t: restored"; done',
  "echo 'checked: ```sql``` fences and <b>tags</b> stay text'",
  'echo "restore complete: 24 tables"',
]

[[phases.steps]]
id = "restore-storage"
title = "Restore file storage"
kind = "ssh"
targets = "app"
optional = true
commands = ["tar -xzf storage_backup.tar.gz"]

[[phases]]
id = "app"
title = "Application Rollback"
start_minute = 15
end_minute = 25

[[phases.steps]]
id = "checkout"
title = "Check out v3.1.4"
kind = "ssh"
targets = "app"
destructive = true
confirm = "checkout"
commands = ['echo "HEAD is now at 9f3c2e1 Release v3.1.4"']

[[phases.steps]]
id = "restart"
title = "Restart services"
kind = "ssh"
targets = "app"
commands = ['echo "shop-web: started"', 'echo "shop-worker: started"']

[[phases]]
id = "verify"
title = "Verification"
start_minute = 25
end_minute = 35

[[phases.steps]]
id = "smoke"
title = "Smoke test"
kind = "manual"
checks = [
  { id = "login", text = "Customers can log in" },
  { id = "checkout-flow", text = "Checkout completes with a test card" },
  { id = "error-rate", text = "Error rate back under 1%" },
]

[[comms]]
id = "ops-slack"
at_minutes = 0
audience = "internal"
channel = "slack"
to = "#ops"
summary = "Slack alert to #ops"

[[comms]]
id = "admin-email"
at_minutes = 15
audience = "internal"
channel = "email"
to = "admin team"
summary = "Email to the admin team"

[[comms]]
id = "stakeholder-update"
at_minutes = 30
audience = "internal"
channel = "email"
to = "stakeholders"
summary = "Status update to stakeholders"

[[comms]]
id = "status-page"
condition = "customer impact"
audience = "external"
channel = "statuspage"
to = "status page"
summary = "Status page update"

[[followups]]
id = "root-cause-analysis"
title = "Root Cause Analysis"
items = ["Identify failure point", "Document lessons learned"]

[[followups]]
id = "fix-and-retest"
title = "Fix and Retest"
items = ["Address root cause", "Staging validation"]

[[followups]]
id = "re-deployment-plan"
title = "Re-deployment Plan"
items = ["Updated deployment strategy", "Monitoring improvements"]

[[prevention]]
title = "Feature Flags"
items = ["Instant feature disable"]

[[contacts]]
role = "On-Call Engineer"
name = "Dana"
phone = "+49-000-0000000"

[[contacts]]
role = "Security Team"
email = "security@shop.invalid"
"""


# ----- recording the fixture ------------------------------------------------------------------


def restore_kinds():
    """The kinds table plus a restore step kind that journals facts and a warning, as the typed
    restore kinds do: the ssh kind plus the backup facts it would learn."""
    from actions.ssh import SSHAction

    class RestoreWithFacts(SSHAction):
        kind = "ssh-restore"

        async def run(self, ctx):
            run = await super().run(ctx)
            for host, outcome in run.outcomes.items():
                if outcome.status == "ok":
                    outcome.facts = dict(BACKUP)
                    ctx.warn(host, f"backup {BACKUP['backup']} is 75 min old; the RPO is 60 min")
            return run

    return {**KINDS, RestoreWithFacts.kind: RestoreWithFacts}


class Scene:
    """The recording's clock, moved to moments given as minutes and seconds after T+0."""

    def __init__(self) -> None:
        self.clock = FrozenClock(T0)

    def at(self, minutes: int, seconds: int = 0) -> None:
        self.clock.advance(
            seconds=(T0 + timedelta(minutes=minutes, seconds=seconds) - self.clock.now()).total_seconds()
        )

    async def run(self, engine: Engine, actor: Actor, step: str, *, lasts: int, retry: bool = False, confirm=""):
        task = (engine.retry_step if retry else engine.start_step)(actor, step, confirm=confirm)
        self.clock.advance(seconds=lasts)  # before the step runs: its end is journaled at this moment
        await task


async def record_incident(base: Path, lab) -> Path:
    """Drive the fixture's incident through the real engine against two real sshd hosts."""
    config = load_config(write_config(base / "config.toml", lab, ["h1", "h2"]))
    (base / "runbook.toml").write_text(RUNBOOK)
    scene = Scene()
    kinds = restore_kinds()
    plan = build_plan(load_runbook(base / "runbook.toml", kinds), config)
    engine = Engine.open(
        base / "state",
        plan,
        ALICE,
        severity="P1",
        trigger="Checkout error rate above 5%",
        detected_at=iso(T0 - timedelta(minutes=8)),
        clock=scene.clock,
        config=config,
        incident_id=INCIDENT_ID,
        kinds=kinds,
    )
    try:
        await _drive(engine, scene, lab)
    finally:
        await engine.aclose()
    return engine.directory


async def _drive(engine: Engine, scene: Scene, lab) -> None:
    scene.at(0, 5)
    engine.take_seat(ALICE)
    scene.at(0, 20)
    engine.record_decision(ALICE, "rollback", "checkout errors at 38% since the 3.2.0 deploy; no forward fix in sight")
    scene.at(0, 40)
    engine.change_severity(ALICE, "P0", "card payments fail for every customer")
    scene.at(1)
    engine.record_comms(ALICE, "ops-slack", "posted in #ops with the incident link")
    scene.at(2)
    await scene.run(engine, ALICE, "maintenance-on", lasts=20)
    scene.at(3)
    engine.tick(ALICE, "notify", "alert-team", "pass", "paged Dana")
    scene.at(3, 30)
    engine.tick(ALICE, "notify", "status-page", "pass")
    scene.at(4)
    with pytest.raises(CommandRefused):
        engine.add_note(OLIVE, "should we not wait for the payment provider?")
    scene.at(6)
    engine.record_comms(ALICE, "admin-email")
    scene.at(10)
    await scene.run(engine, ALICE, "restore-db", lasts=40, confirm="restore")
    scene.at(11)
    engine.add_note(ALICE, "restore failed: the restore user lost its grant in 3.2.0.\nRe-granted on h1.")
    (lab.hosts["h1"].root / "grant-fixed").touch()
    scene.at(12)
    engine.hand_over(ALICE, BOB)
    scene.at(13)
    await scene.run(engine, BOB, "restore-db", lasts=270, retry=True, confirm="restore")
    scene.at(18)
    engine.skip_step(BOB, "restore-storage", "uploads were not touched by 3.2.0")
    scene.at(19)
    await scene.run(engine, BOB, "checkout", lasts=20, confirm="checkout")
    scene.at(20)
    await scene.run(engine, BOB, "restart", lasts=60)
    scene.at(22, 30)
    engine.check_deadlines()
    scene.at(24)
    engine.tick(BOB, "smoke", "login", "pass")
    engine.tick(BOB, "smoke", "checkout-flow", "fail", "card payments time out")
    scene.at(25)
    engine.add_note(BOB, "payment provider timeouts are theirs, not ours: ticket PAY-231")
    scene.at(26)
    engine.tick(BOB, "smoke", "checkout-flow", "pass", "passes since the provider recovered")
    engine.tick(BOB, "smoke", "error-rate", "na", "dashboard down; checked the logs instead")
    scene.at(27)
    engine.close(BOB, "resolved", "Rolled back to v3.1.4; checkout healthy again.")


def normalise(directory: Path, base: Path) -> None:
    """Make a recording reproducible: fixed paths, ports, user, pids and durations, no remote process
    groups; renumbered and re-chained."""
    lines = (directory / "journal.jsonl").read_text().splitlines()
    records = [json.loads(line.replace(str(base), "/home/ops")) for line in lines]
    # remote process groups are machine-specific and arrive in host order: not part of the fixture
    records = [r for r in records if r["type"] != "step.remote_started"]
    for seq, record in enumerate(records, start=1):
        record["seq"] = seq
    started: dict[tuple[str, int], str] = {}
    for record in records:
        data = record["data"]
        if "pid" in data:
            data["pid"] = 4242
        if record["type"] == "incident.opened":
            for target in data["plan"]["targets"].values():
                target.update(port=22, user="deploy")
        if record["type"] == "step.started":
            started[(data["step"], data["attempt"])] = record["ts"]
        if record["type"] == "step.host_finished":
            begun = datetime.fromisoformat(started[(data["step"], data["attempt"])])
            data["result"]["duration"] = (datetime.fromisoformat(record["ts"]) - begun).total_seconds()
    prev = GENESIS
    with (directory / "journal.jsonl").open("w") as out:
        for record in records:
            record["prev"] = prev
            record["hash"] = prev = record_hash(record)
            out.write(canonical(record) + "\n")
    (directory / "lock").unlink(missing_ok=True)


# ----- helpers --------------------------------------------------------------------------------


def copy_fixture(target: Path) -> Path:
    shutil.copytree(FIXTURE, target)
    return target


def reports(directory: Path) -> dict[str, str]:
    data = build_report(directory)
    return {fmt: render(data, fmt) for fmt in FORMATS}


def golden(fmt: str) -> str:
    return (GOLDEN / f"report.{fmt}").read_text(encoding="utf-8")


def validate(text: str) -> dict:
    data = json.loads(text)
    jsonschema.Draft202012Validator(schema()).validate(data)
    return data


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def outside_fences(markdown: str) -> str:
    """The Markdown text that is not inside a fenced code block."""
    kept, fence = [], ""
    for line in markdown.splitlines():
        marker = re.match(r"^(`{3,})", line)
        if fence:
            if marker and marker.group(1) == fence and line.strip() == fence:
                fence = ""
        elif marker:
            fence = marker.group(1)
        else:
            kept.append(line)
    return "\n".join(kept)


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
    assert data["refusals"][0]["by"] == "olive" and data["refusals"][0]["command"] == "note"
    assert "75 min old" in data["warnings"][0]["message"]
    assert "- [ ] **Root Cause Analysis**" in md and "  - [ ] Identify failure point" in md
    assert "\n````text\n" in md  # the output holds ``` so its fence is longer


# ----- secrets, control sequences, HTML ---------------------------------------------------------


@pytest.mark.sshd
async def test_secrets_never_reach_any_format_and_remote_markup_stays_text(tmp_path, lab, monkeypatch, capsys):
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    monkeypatch.setenv("REPORT_DB_PASSWORD", secret)
    extra = '[database]\nname = "shop"\nuser = "shop"\npassword = "env:REPORT_DB_PASSWORD"\n'
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
    plan = build_plan(load_runbook(write_runbook(tmp_path / "runbook.toml", steps), KINDS), config)
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
        '[database]\nname = "shop"\nuser = "shop"\npassword = "env:PLANTED_PASSWORD"\n'
    )
    monkeypatch.setenv("PLANTED_PASSWORD", "Xyz-Planted-9")
    assert "Xyz-Planted-9" in render(build_report(incident), "md")  # the report only knows what it is told
    assert main(["report", str(incident), "-c", str(config), "--format", "html"]) == 0
    out = capsys.readouterr().out
    assert "Xyz-Planted-9" not in out and "the old db secret was ********" in out


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
    assert rpo["text"].startswith("2026-11-29-02-30-00.zip restored by restore-db on h1: 43 min 00 s old, within")
    storage = [b for b in rpo["backups"] if b["step"] == "checkout"]
    assert [(b["name"], b["age_seconds"], b["verdict"]) for b in storage] == [
        ("storage_backup.tar.gz", None, "unknown")
    ] * 2


# ----- schema, CLI, export ----------------------------------------------------------------------


def test_the_schema_is_valid_and_catches_a_wrong_report():
    jsonschema.Draft202012Validator.check_schema(schema())
    data = validate(golden("json"))
    data["incident"]["status"] = "fine"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema()).validate(data)


def test_cli_writes_files_and_resolves_ids_and_journal_paths(tmp_path, capsys):
    state = tmp_path / "state"
    copy_fixture(state / "incidents" / INCIDENT_ID)
    out = tmp_path / "report.html"
    journal = state / "incidents" / INCIDENT_ID / "journal.jsonl"
    assert main(["report", str(journal), "--format", "html", "-o", str(out)]) == 0
    assert out.read_text() == golden("html")
    assert main(["report", INCIDENT_ID[:15], "--state-dir", str(state), "--format", "json"]) == 0
    assert capsys.readouterr().out == golden("json")
    assert main(["report", INCIDENT_ID, "--state-dir", str(state), "--format", "pdf", "-o", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err == "warroom: Invalid input: --format pdf: unknown report format (use md, html, json)\n"
    assert not (tmp_path / "x").exists()
    assert main(["report", str(journal), "-o", str(tmp_path / "missing" / "r.md")]) == 1
    assert capsys.readouterr().err.count("\n") == 1


def test_export_all_writes_the_three_reports_into_the_incident_directory(tmp_path):
    incident = copy_fixture(tmp_path / "incident")
    paths = export_all(incident)
    assert [p.name for p in paths] == ["report.md", "report.html", "report.json"]
    assert all(p.parent == incident for p in paths)
    assert [p.read_text() for p in paths] == [golden("md"), golden("html"), golden("json")]
    assert sorted(p.name for p in incident.iterdir() if p.name.startswith(".")) == []
