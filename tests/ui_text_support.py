"""A runbook whose every text a team writes holds ``[...]`` (as markup would read it) and a
destructive step with long commands and a long note, for the tests of what the screens show."""

from __future__ import annotations

import textwrap
from pathlib import Path

from conftest import write_config
from ui_support import ALICE, START

from actions.registry import KINDS
from console.engine import Actor, Engine
from console.host.session import LocalSession
from console.model.clock import FrozenClock
from console.model.config import load_config
from console.model.plan import build_plan
from console.model.runbook import load_runbook

LONG_NOTE = (
    "Stop every queue worker first [queue:restart is not enough], then check that nobody is writing: "
    "a restore under live writes loses them silently. Keep the safety dump until the incident is "
    "closed and the customer data has been verified by the support lead on the morning shift. END-OF-NOTE"
)
LONG_COMMAND = (
    "mysql --defaults-extra-file=/etc/mysql/warroom.cnf salon_production "
    "< /var/backups/salon/salon_production-2026-11-29-0158-before-the-v1.0.0-deploy.sql && "
    "echo restored-from-the-backup-taken-before-the-deploy END-OF-COMMAND"
)

BRACKETS_RUNBOOK = f"""\
triggers = ["[P0] data loss", "Service [api] down"]

[runbook]
id = "brackets"
title = "[bold]Shop[/bold] rollback"
version = "1.0.0"

[severity.P0]
label = "Critical [red]now[/red]"
response_minutes = 5
rollback = "yes"
rto_minutes = 15

[[phases]]
id = "main"
title = "Main [phase]"
start_minute = 0
end_minute = 10

[[phases.steps]]
id = "verify"
title = "Verify [b]logins[/b]"
kind = "manual"
checks = [{{ id = "login", text = "[x] users can log in" }}]

[[phases.steps]]
id = "restore"
title = "Restore the [database] from the backup taken before the deploy"
kind = "ssh"
targets = "app"
commands = ['{LONG_COMMAND}', 'echo second [step] command']
destructive = true
confirm = "restore"
note = "{LONG_NOTE}"

[[comms]]
id = "ops"
at_minutes = 0
audience = "internal"
channel = "slack"
to = "[ops]"
summary = "[urgent] Slack alert"

[[contacts]]
role = "[On-Call] Engineer"
name = "Dana [SRE]"
phone = "+49-[0]-123"
"""


def brackets_session(
    tmp_path: Path, lab, *, actor: Actor = ALICE, hosts: tuple[str, ...] = ("app1",), extra: str = ""
) -> LocalSession:
    config = load_config(write_config(tmp_path / "config.toml", lab, list(hosts), extra=textwrap.dedent(extra)))
    (tmp_path / "rb.toml").write_text(BRACKETS_RUNBOOK)
    plan = build_plan(load_runbook(tmp_path / "rb.toml", KINDS), config)
    engine = Engine.open(
        tmp_path / "state",
        plan,
        ALICE,
        severity="P0",
        trigger="[P0] data loss",
        clock=FrozenClock(START),
        config=config,
        incident_id="20261129-030000-brackets",
    )
    if actor.role == "driver":
        engine.take_seat(actor)
    return LocalSession(engine, actor)


def screen_text(app) -> str:
    """What the terminal shows now, as plain lines (the top screen over what it covers)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def flat(text: str) -> str:
    """The screen's words in one line: borders, scrollbars and wrapping dropped."""
    keep = "".join(c if c.isprintable() and c not in "│┃║▌▐█▊▎▔▁─━╭╮╰╯┏┓┗┛" else " " for c in text)
    return " ".join(keep.split())
