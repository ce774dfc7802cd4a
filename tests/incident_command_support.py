"""An incident with a manual step, checks and a communication plan, for ``warroom tick | note |
comms | close`` from the command line: shared by the running (``serve``) and stopped tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import ssh_step, write_runbook

COMMS = """
[[comms]]
id = "slack-ops"
at_minutes = 0
audience = "internal"
channel = "slack"
to = "#ops"
summary = "Slack alert to #ops"

[[comms]]
id = "status-page"
at_minutes = 5
audience = "external"
channel = "statuspage"
to = "customers"
summary = "Status page update"
"""

MANUAL = """
[[phases.steps]]
id = "verify"
title = "Functional Testing"
kind = "manual"
checks = [{ id = "auth", text = "User authentication works" }, { id = "booking", text = "Bookings work" }]
"""


def runbook(path: Path, *, slow: bool = False) -> Path:
    first = ssh_step("slow", "sleep 3", "echo done") if slow else ""
    return write_runbook(path, first + MANUAL + ssh_step("after", 'touch "$HOSTDIR/after"') + COMMS)


def warroom(*args: str, timeout: float = 60, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def records(journal: Path) -> list[dict]:
    return [json.loads(line) for line in journal.read_text().splitlines() if line.endswith("}")]


def of_type(journal: Path, type_: str) -> list[dict]:
    return [r for r in records(journal) if r["type"] == type_]
