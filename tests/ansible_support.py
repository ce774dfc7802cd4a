"""Helpers of the ansible step tests: a runbook with ansible steps, its playbooks and an engine on
the lab's real sshd hosts."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

from conftest import write_config, write_runbook

from actions.registry import KINDS
from console.engine import Actor, Engine
from console.model.config import load_config
from console.model.plan import build_plan
from console.model.runbook import load_runbook

ALICE = Actor("alice", "driver")
PY = {"ansible_python_interpreter": "/usr/bin/python3"}
"""The lab's hosts are this machine, whose first python3 on PATH may be a pyenv shim."""


def ansible_step(step_id: str, *, targets: str = "app", timeout: int = 120, **params: object) -> str:
    """One ``[[phases.steps]]`` table of kind ansible; ``params`` as TOML values."""
    import tomli_w

    body = tomli_w.dumps({"params": params})
    return textwrap.dedent(
        f"""
            [[phases.steps]]
            id = "{step_id}"
            title = "Step {step_id}"
            kind = "ansible"
            targets = "{targets}"
            timeout = {timeout}
            """
    ) + body.replace("[params", "[phases.steps.params")


def write_playbook(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def open_engine(
    tmp_path: Path, lab, hosts: list[str], steps: str, *, variables: str = "", extra: str = "", **config_kw
) -> Engine:
    config = load_config(write_config(tmp_path / "config.toml", lab, hosts, extra=extra, **config_kw))
    runbook = load_runbook(write_runbook(tmp_path / "runbook.toml", steps, variables=variables), KINDS)
    engine = Engine.open(
        tmp_path / "state", build_plan(runbook, config), ALICE, severity="P0", trigger="test", config=config
    )
    engine.take_seat(ALICE)
    return engine


def journal(engine: Engine) -> list[dict]:
    return [json.loads(line) for line in engine.journal.path.read_text().splitlines()]


def processes_with(text: str) -> list[str]:
    """Command lines of the running processes that contain ``text`` (``ps``), this test's own excepted."""
    out = subprocess.run(["ps", "-ww", "-eo", "pid=,stat=,args="], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if text in line and " ps " not in line and "Z" not in line.split()[1]]
