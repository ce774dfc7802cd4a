"""An offline config for plan-level tests of step params (nothing in it is connected to), and the
CLI run as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import conftest

ROOT = Path(__file__).resolve().parent.parent


def write_config(path: Path, *, keepalive: int = 60, rollback_ref: str = "v1", health_timeout: float = 2.5) -> Path:
    """A config the plan can bind to: nothing here is connected to."""
    known_hosts = path.parent / "known_hosts"
    known_hosts.touch()
    path.write_text(
        textwrap.dedent(
            f"""
            [environment]
            name = "test"
            state_dir = "{path.parent / "state"}"

            [hosts.h1]
            address = "127.0.0.1"
            user = "deploy"
            known_hosts = "{known_hosts}"
            keepalive = {keepalive}

            [hosts.h1.vars]
            keepalive = {keepalive}

            [groups]
            app = ["h1"]

            [vars.app]
            root = "/srv/app"
            rollback_ref = "{rollback_ref}"

            [vars.database]
            password = "env:PARAMS_TEST_DB_PASSWORD"

            [vars.health]
            url = "http://127.0.0.1:8000/health"
            expect_status = 204
            timeout = "{health_timeout}"
            """
        )
    )
    return path


VARIABLES = conftest.declare(
    app__root="path",
    app__rollback_ref="string",
    health__url="url",
    health__expect_status="integer",
    health__timeout="string",  # "2.5": a float field reads the number it spells
    keepalive="integer",  # set per host: [hosts.h1.vars]
    database__password="secret",  # what a mysql step's password names by default
)
"""What the params tests' runbooks declare (the config above gives the values)."""
DB = 'database = "shop@127.0.0.1:3306/shop"'
"""A mysql step's database, as a params entry."""


def write_runbook(path: Path, steps: str, **kwargs) -> Path:
    """:func:`conftest.write_runbook` declaring :data:`VARIABLES`."""
    return conftest.write_runbook(path, steps, variables=VARIABLES, **kwargs)


def warroom(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "console.cli", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60
    )
