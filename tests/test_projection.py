"""Issue 15: the projection from history, in the RTO pane and in ``warroom plan --severity``.

Earlier runs of the same runbook are recorded through the real engine against a real sshd host
(:mod:`projection_support`); each step's expected duration is the median of at least three runs,
drills apart from real incidents, else its phase window's share.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
from conftest import ALICE
from projection_support import RUNBOOK, T0, plan_for, record_runs
from textual.app import App, ComposeResult

from console.engine import Engine
from console.host.session import LocalSession
from console.model.clock import FrozenClock
from console.model.config import load_config
from console.model.history import History, StepRuns
from console.model.timeline import format_delta, rto_status
from screens.panes.countdown import CountdownPane

pytestmark = pytest.mark.sshd
NOW = T0 + timedelta(days=30)


def open_production(tmp_path, lab) -> Engine:
    plan, config_path = plan_for(tmp_path, lab, "production")
    return Engine.open(
        tmp_path / "state",
        plan,
        ALICE,
        severity="P0",
        trigger="checkout down",
        clock=FrozenClock(NOW),
        config=load_config(config_path),
        incident_id="production-now",
    )


def projected(engine: Engine) -> tuple[str, str, str, str]:
    status = rto_status(engine.state, engine.clock.now())
    return (
        format_delta(status.projected_finish - status.started),
        format_delta(status.projected_fastest - status.started),
        format_delta(status.projected_slowest - status.started),
        status.basis,
    )


async def test_five_drills_give_the_median_and_their_range(tmp_path, lab):
    await record_runs(tmp_path, lab, 5)
    engine = open_production(tmp_path, lab)
    try:
        steps = engine.state.history["steps"]
        assert steps["stop"] == {
            "source": "drills",
            "runs": 5,
            "seconds": 80.0,
            "fastest": 60.0,
            "slowest": 100.0,
            "scaled_to_hosts": 0,
        }
        assert steps["verify"]["seconds"] == 32.0 and steps["start"]["seconds"] == 120.0
        # 80 + 32 + 120 s expected; 60 + 30 + 120 to 100 + 34 + 120 seen
        assert projected(engine) == ("03:52", "03:30", "04:14", "from 5 drills")
        engine.take_seat(ALICE)
        task = engine.start_step(ALICE, "stop")
        engine.clock.advance(seconds=50)  # a running step counts with what is left of its median
        assert projected(engine)[0] == "03:52"
        await task
        assert projected(engine)[0] == format_delta(timedelta(seconds=50 + 32 + 120))
    finally:
        await engine.aclose()


async def test_two_drills_are_too_few_the_windows_stand(tmp_path, lab):
    await record_runs(tmp_path, lab, 2)
    drill = tmp_path / "state" / "incidents" / "drill-000" / "journal.jsonl"
    damaged = tmp_path / "state" / "incidents" / "drill-zzz"  # same runbook, an edited record: not history
    damaged.mkdir()
    lines = drill.read_text().splitlines()
    (damaged / "journal.jsonl").write_text("\n".join([lines[0], lines[1].replace("alice", "mallory")]) + "\n")
    engine = open_production(tmp_path, lab)
    try:
        assert engine.state.history["journals"] == {"incidents": 0, "drills": 2}
        assert engine.state.history["steps"] == {}
        assert projected(engine) == ("20:00", "20:00", "20:00", "from windows")  # two 10-minute windows
    finally:
        await engine.aclose()


async def test_real_incidents_are_kept_apart_from_drills(tmp_path, lab):
    await record_runs(tmp_path, lab, 5)  # stop: median 80 s in drills
    await record_runs(tmp_path, lab, 3, environment="production", day=100)  # 60, 70, 80: median 70 s
    engine = open_production(tmp_path, lab)
    try:
        assert engine.state.history["steps"]["stop"]["source"] == "incidents"
        assert engine.state.history["steps"]["stop"]["seconds"] == 70.0  # the drills' 90 and 100 not mixed in
        assert projected(engine)[3] == "from 3 incidents"
    finally:
        await engine.aclose()


async def test_an_edited_runbook_starts_a_new_history(tmp_path, lab):
    await record_runs(tmp_path, lab, 5)
    edited, config_path = plan_for(tmp_path, lab, "production", RUNBOOK.replace("echo starting", "echo go"))
    engine = Engine.open(
        tmp_path / "state", edited, ALICE, severity="P0", trigger="x", clock=FrozenClock(NOW),
        config=load_config(config_path),
    )  # fmt: skip
    try:
        assert engine.state.history["journals"] == {"incidents": 0, "drills": 0}
        assert projected(engine)[3] == "from windows"
    finally:
        await engine.aclose()


def test_a_step_fanned_out_to_more_hosts_expects_the_slowest_of_them():
    """Hosts run a step at once: on three hosts it takes about the slowest of three of its per-host runs."""
    history = History()
    history.runs["drills"]["restore"] = StepRuns([40.0, 50.0, 60.0], [40.0, 50.0, 60.0], [1, 1, 1])
    assert history.estimate("restore", 1)["seconds"] == 50.0
    three = history.estimate("restore", 3)
    assert three["scaled_to_hosts"] == 3 and three["seconds"] == pytest.approx(55.0)  # the 3/4 quantile
    assert (three["fastest"], three["slowest"]) == (40.0, 60.0)
    history.runs["drills"]["restore"] = StepRuns([40.0, 50.0], [40.0, 50.0], [1, 1])
    assert history.estimate("restore", 3) is None  # two runs: the window stands


def test_plan_prints_the_projection_per_phase_against_the_rto(tmp_path, lab):
    import asyncio

    asyncio.run(record_runs(tmp_path, lab, 5))
    _, config_path = plan_for(tmp_path, lab, "production")
    argv = [sys.executable, "-m", "console.cli", "plan", "-c", str(config_path), "--severity", "P0"]
    argv += ["--runbook", str(tmp_path / "runbook.toml"), "--state-dir", str(tmp_path / "state")]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    start = lines.index("Projection against the P0 RTO (15 min), from 5 drills:")
    assert lines[start + 1].split() == ["1", "Stop", "1:52", "1:30–2:14", "done", "by", "T+1:52", "from", "5", "drills"]
    assert lines[start + 2].split() == ["2", "Start", "2:00", "done", "by", "T+3:52", "from", "5", "drills"]
    assert lines[start + 3] == "  Projected finish T+3:52: within the RTO, 11:08 to spare"
    assert lines[start + 4] == "  Range seen: T+3:30 (fastest) to T+4:14 (slowest)"
    no_history = subprocess.run([*argv[:-1], str(tmp_path / "nothing")], capture_output=True, text=True, timeout=60)
    assert (
        "from windows:" in no_history.stdout and "Projected finish T+20:00: over the RTO by 5:00" in no_history.stdout
    )


class CountdownApp(App[None]):
    def __init__(self, session: LocalSession) -> None:
        super().__init__()
        self.session = session

    def compose(self) -> ComposeResult:
        yield CountdownPane(self.session, id="countdown")


async def test_the_rto_pane_shows_the_projection_its_basis_and_range(tmp_path, lab):
    await record_runs(tmp_path, lab, 5)
    engine = open_production(tmp_path, lab)
    try:
        async with CountdownApp(LocalSession(engine, ALICE)).run_test(size=(40, 12)) as pilot:
            await pilot.pause()
            facts = str(pilot.app.query_one("#rto-facts").render())
            assert "projected T+03:52 in RTO" in facts
            assert "from 5 drills · 03:30–04:14" in facts
    finally:
        await engine.aclose()
