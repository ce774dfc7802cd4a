"""Shared fixtures: a lab of real sshd hosts, configs and runbooks written as real files."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sshd import SSHLab

from actions.registry import KINDS
from console.engine import Actor, Engine
from console.model.clock import FrozenClock
from console.model.config import load_config
from console.model.plan import build_plan
from console.model.runbook import load_runbook

# The shared helpers of the test modules assert too: pytest rewrites their asserts for detailed messages.
pytest.register_assert_rewrite(*(path.stem for path in Path(__file__).parent.glob("*_support.py")), "mysql_dump")

REPO = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(config, items):
    if shutil.which("/usr/sbin/sshd") is None:
        skip = pytest.mark.skip(reason="OpenSSH server not installed: run ./scripts/test")
        for item in items:
            if "sshd" in item.keywords:
                item.add_marker(skip)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[SSHLab]:
    with SSHLab(tmp_path / "lab") as ssh_lab:
        yield ssh_lab


def write_config(
    path: Path,
    lab: SSHLab,
    hosts: list[str],
    *,
    groups: dict[str, list[str]] | None = None,
    known_hosts: Path | None = None,
    extra: str = "",
    runbook: str = "salonmanager",
) -> Path:
    """A config whose hosts are the lab's sshd instances (started on demand)."""
    lines = [
        "[environment]",
        'name = "test"',
        f'state_dir = "{path.parent / "state"}"',
        f'runbook = "{runbook}"',
        "",
    ]
    for name in hosts:
        host = lab.hosts.get(name) or lab.start(name)
        lines += [
            f"[hosts.{name}]",
            'address = "127.0.0.1"',
            f"port = {host.port}",
            f'user = "{lab.user}"',
            f'identity_file = "{lab.client_key}"',
            f'known_hosts = "{known_hosts or lab.known_hosts}"',
            "connect_timeout = 5",
            "",
        ]
    lines.append("[groups]")
    for group, members in (groups or {"app": hosts}).items():
        lines.append(f"{group} = [{', '.join(repr(m).replace(chr(39), chr(34)) for m in members)}]")
    path.write_text("\n".join(lines) + "\n" + textwrap.dedent(extra))
    return path


RUNBOOK_HEAD = """\
triggers = ["Something broke"]

[runbook]
id = "testbook"
title = "Test rollback"
version = "2.0.0"

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
"""


def declare(**variables: str | tuple[str, object]) -> str:
    """``[vars]`` declarations for a runbook: ``declare(app__root="path", db__port=("integer", 3306))``
    declares ``app.root`` (required) and ``db.port`` (default 3306); ``__`` stands for a dot."""
    import tomli_w

    table: dict[str, object] = {}
    for key, spec in variables.items():
        var_type, default = (spec, None) if isinstance(spec, str) else spec
        node = table
        for part in key.split("__"):
            node = node.setdefault(part, {})  # type: ignore[assignment]
        node["type"] = var_type  # type: ignore[index]
        if default is not None:
            node["default"] = default  # type: ignore[index]
    return "\n" + tomli_w.dumps({"vars": table})


def write_runbook(path: Path, steps: str, *, phases: int = 1, variables: str = "") -> Path:
    """A small runbook: ``steps`` is TOML for ``[[phases.steps]]`` tables of one phase;
    ``variables`` its ``[vars]`` declarations (:func:`declare`)."""
    body = (
        RUNBOOK_HEAD
        + textwrap.dedent(
            """
        [[phases]]
        id = "main"
        title = "Main"
        start_minute = 0
        end_minute = 10
        """
        )
        + textwrap.dedent(steps)
        + variables
    )
    path.write_text(body)
    return path


def ssh_step(step_id: str, *commands: str, targets: str = "app", timeout: int = 30, extra: str = "") -> str:
    """One ``[[phases.steps]]`` table of kind ssh."""
    quoted = ", ".join("'" + c + "'" for c in commands)
    return textwrap.dedent(
        f"""
        [[phases.steps]]
        id = "{step_id}"
        title = "Step {step_id}"
        kind = "ssh"
        targets = "{targets}"
        timeout = {timeout}
        commands = [{quoted}]
        """
    ) + textwrap.dedent(extra)


# ----- an engine without hosts (tests of rules, comms, the report) ---------------------------------
ALICE = Actor("alice", "driver")
BOB = Actor("bob", "driver")
OLIVE = Actor("olive", "observer")

STEPS = """
[[phases.steps]]
id = "verify"
title = "Functional Testing"
kind = "manual"
checks = [
  { id = "auth", text = "User authentication works" },
  { id = "core", text = "Core features functional" },
]

[[phases.steps]]
id = "restore"
title = "Restore database"
kind = "ssh"
targets = "app"
commands = ["true"]
destructive = true
confirm = "restore"
"""

COMMS = """
[[comms]]
id = "slack-ops"
at_minutes = 0
audience = "internal"
channel = "slack"
to = "#ops"
summary = "Slack alert to #ops channel"
"""


@pytest.fixture
async def engine(tmp_path: Path):
    """An incident on a manual + ssh runbook with a frozen clock; no host is contacted."""
    known = tmp_path / "known_hosts"
    known.write_text("")
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[environment]\nname = "t"\n\n[hosts.h1]\naddress = "127.0.0.1"\nuser = "root"\nknown_hosts = "{known}"\n\n'
        '[groups]\napp = ["h1"]\n'
    )
    runbook = load_runbook(write_runbook(tmp_path / "rb.toml", STEPS + COMMS), KINDS)
    clock = FrozenClock(datetime(2026, 11, 29, 3, 0, tzinfo=UTC))
    eng = Engine.open(
        tmp_path / "state",
        build_plan(runbook, load_config(cfg)),
        ALICE,
        severity="P0",
        trigger="Data corruption or loss",
        clock=clock,
    )
    yield eng
    await eng.aclose()
