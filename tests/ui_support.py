"""Building a war-room session for UI tests: a real engine, a frozen clock, real sshd hosts."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

from conftest import ssh_step, write_config

from actions.registry import KINDS
from console.engine import Actor, Engine
from console.host.session import LocalSession, Session
from console.model.clock import FrozenClock
from console.model.config import load_config
from console.model.plan import build_plan
from console.model.runbook import load_runbook
from screens.app import WarroomApp

ALICE = Actor("alice", "driver")
OLIVE = Actor("olive", "observer")
START = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)

UI_RUNBOOK = """\
triggers = ["Data corruption or loss", "Service unavailability > 5 minutes"]

[runbook]
id = "uibook"
title = "Shop rollback"
version = "3.1.0"

[severity.P0]
label = "Critical"
response_minutes = 5
rollback = "yes"
rto_minutes = 15

[severity.P1]
label = "High"
response_minutes = 15
rollback = "maybe"
rto_minutes = 30

[[phases]]
id = "immediate"
title = "Immediate Response"
start_minute = 0
end_minute = 5
{phase1}

[[phases.steps]]
id = "notify"
title = "Notify Stakeholders"
kind = "manual"
checks = [
  {{ id = "admins", text = "Send alert to admin team" }},
  {{ id = "status", text = "Update status page" }},
]

[[phases]]
id = "restore"
title = "Database Rollback"
start_minute = 5
end_minute = 15
{phase2}

[[comms]]
id = "slack-ops"
at_minutes = 0
audience = "internal"
channel = "slack"
to = "#ops"
summary = "Slack alert to #ops channel"

[[comms]]
id = "email-admins"
at_minutes = 5
audience = "internal"
channel = "email"
to = "admin team"
summary = "Email to admin team"

[[contacts]]
role = "On-Call Engineer"
phone = "+49-XXX-XXXXXXX"

[[contacts]]
role = "Security Team"
email = "security@example.com"
"""

PHASE1 = ssh_step("maintenance", 'echo "maintenance on $HOSTDIR"', "echo done")
PHASE2 = ssh_step(
    "restore-db",
    'echo "restoring on $HOSTDIR"',
    'if [ -e "$HOSTDIR/fail" ]; then echo "ERROR 1045 access denied" >&2; exit 1; fi',
    extra='destructive = true\nconfirm = "restore"\n',
) + ssh_step("slow", 'if [ -e "$HOSTDIR/slow" ]; then sleep 120; fi', "echo quick", timeout=300)


def make_session(
    tmp_path: Path,
    lab,
    *,
    actor: Actor = ALICE,
    hosts: tuple[str, ...] = ("app1", "app2"),
    incident_id: str = "20261129-030000-demo",
    keymap: str = "",
) -> LocalSession:
    config = load_config(write_config(tmp_path / "config.toml", lab, list(hosts), extra=textwrap.dedent(keymap)))
    text = UI_RUNBOOK.format(phase1=PHASE1, phase2=PHASE2)
    (tmp_path / "rb.toml").write_text(text)
    plan = build_plan(load_runbook(tmp_path / "rb.toml", KINDS), config)
    clock = FrozenClock(START)
    engine = Engine.open(
        tmp_path / "state",
        plan,
        ALICE,
        severity="P0",
        trigger="Data corruption or loss",
        clock=clock,
        config=config,
        incident_id=incident_id,
    )
    if actor.role == "driver":
        engine.take_seat(actor)
    return LocalSession(engine, actor)


def make_app(session: Session, **kwargs) -> WarroomApp:
    return WarroomApp(session=session, **kwargs)
