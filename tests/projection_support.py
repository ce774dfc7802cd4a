"""Recording earlier runs of one runbook into a state dir, through the real engine against a real
sshd host, with a frozen clock that sets each step's duration (as the report's golden scene does)."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import ALICE, RUNBOOK_HEAD, ssh_step, write_config

from actions.registry import KINDS
from console.engine import Engine
from console.model.clock import FrozenClock
from console.model.config import load_config
from console.model.plan import Plan, build_plan
from console.model.runbook import load_runbook

T0 = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)

RUNBOOK = (
    RUNBOOK_HEAD
    + textwrap.dedent(
        """
        [[phases]]
        id = "stop"
        title = "Stop"
        start_minute = 0
        end_minute = 10
        """
    )
    + ssh_step("stop", "echo stopping")
    + textwrap.dedent(
        """
        [[phases.steps]]
        id = "verify"
        title = "Verify it stopped"
        kind = "manual"
        checks = [{ id = "down", text = "the site answers 503" }]

        [[phases]]
        id = "start"
        title = "Start"
        start_minute = 10
        end_minute = 20
        """
    )
    + ssh_step("start", "echo starting")
)
STOP = (60, 70, 80, 90, 100)
"""Seconds ``stop`` takes in each recorded run (its median: 80)."""
VERIFY = (30, 31, 32, 33, 34)
START = 120


def plan_for(base: Path, lab, environment: str, runbook: str = RUNBOOK) -> tuple[Plan, Path]:
    """The runbook bound to a config naming ``environment`` (``drill`` is what ``warroom drill`` writes)."""
    config_path = write_config(base / f"{environment}.toml", lab, ["h1"])
    config_path.write_text(config_path.read_text().replace('name = "test"', f'name = "{environment}"'))
    (base / "runbook.toml").write_text(runbook)
    config = load_config(config_path)
    return build_plan(load_runbook(base / "runbook.toml", KINDS), config), config_path


async def record_runs(base: Path, lab, count: int, *, environment: str = "drill", day: int = 0) -> None:
    """``count`` runs of the runbook, each closed, into ``base / "state"``."""
    plan, config_path = plan_for(base, lab, environment)
    config = load_config(config_path)
    for run in range(count):
        clock = FrozenClock(T0 + timedelta(days=day + run))
        engine = Engine.open(
            base / "state",
            plan,
            ALICE,
            severity="P0",
            trigger="rehearsal",
            clock=clock,
            config=config,
            incident_id=f"{environment}-{day + run:03}",
        )
        try:
            engine.take_seat(ALICE)
            for step, lasts in (("stop", STOP[run % 5]), ("verify", VERIFY[run % 5]), ("start", START)):
                if step == "verify":
                    clock.advance(seconds=lasts)
                    engine.tick(ALICE, "verify", "down", "pass")
                    continue
                task = engine.start_step(ALICE, step)
                clock.advance(seconds=lasts)
                await task
            engine.close(ALICE, "resolved", "rehearsed")
        finally:
            await engine.aclose()
