"""The incident report tests' golden incident: its runbook, how it is recorded and normalised, and
the helpers that read reports back.

The golden fixture (``tests/golden/report/incident/``) is a real incident recorded through the
engine against two real sshd hosts with a frozen clock, then normalised (temporary paths, ports,
pids and measured durations made fixed, the chain re-hashed).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import pytest
from conftest import REPO, write_config

from actions.registry import KINDS
from console.engine import Actor, Engine
from console.model.clock import FrozenClock, iso
from console.model.config import load_config
from console.model.errors import CommandRefused
from console.model.journal import GENESIS, canonical, record_hash
from console.model.plan import build_plan
from console.model.runbook import load_runbook
from console.report import FORMATS, build_report, render
from console.report.json_format import schema

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
    engine.add_note(OLIVE, "should we not wait for the payment provider?")  # observers may note
    with pytest.raises(CommandRefused):  # and nothing else
        engine.tick(OLIVE, "notify", "status-page", "fail", "it still says all good")
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
    seal = {"seq": records[-1]["seq"], "hash": records[-1]["hash"]}  # re-chained: sealed again
    (directory / "journal.seal").write_text(json.dumps(seal, sort_keys=True))
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
