"""``warroom drill --fail STEP`` for every automated step of the built-in runbook.

Each step is rehearsed failing in a headless drill of its own (a real subprocess, its own
sandbox), and the run must stop at that step with it failed — in the step kind's own words
where the failure is put into the sandbox (a corrupt archive, a missing tag, a crashed service,
a 503 health endpoint). The drills run side by side: two of them wait out the step's own retry
window (the compose status waits 60 s for services, the health check retries for 30 s).
"""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from actions.registry import KINDS
from console.drill.run import drill_steps, failable_steps
from console.model import defaults
from console.model.journal import read_records
from console.model.runbook import load_runbook
from console.model.state import fold

RUNBOOK = load_runbook(defaults.RUNBOOK, KINDS)
SYSTEMD = {"deploy_mode": "systemd"}
DEFAULT_STEPS = failable_steps(RUNBOOK)
SYSTEMD_STEPS = [s for s in failable_steps(RUNBOOK, SYSTEMD) if s not in DEFAULT_STEPS]
SLOW_FIRST = ("verify-compose-status", "verify-health-check")
# What the operator reads when the failure was put into the sandbox rather than into the commands.
IN_ITS_OWN_WORDS = {
    "restore-file-storage": "could not be extracted (corrupt or truncated?)",
    "revert-git-tag": "ref v0.9.0 does not exist in this repository",
    "verify-compose-status": "salonmanager-backend-1 is exited (Exited (1))",
    "verify-health-check": "503",
}
# The systemd variant, rehearsed through the drill's own entry (the CLI has no variant flag).
SYSTEMD_DRILL = (
    "import sys; from pathlib import Path; from console.drill.run import DrillOptions, run_drill; "
    "sys.exit(run_drill(DrillOptions(headless=True, fail=sys.argv[1], directory=Path(sys.argv[2]), keep=True, "
    "variants={'deploy_mode': 'systemd'})))"
)


def _drill(step: str, root: Path) -> subprocess.CompletedProcess[str]:
    if step in SYSTEMD_STEPS:
        argv = [sys.executable, "-c", SYSTEMD_DRILL, step, str(root)]
    else:
        argv = [
            sys.executable,
            "-m",
            "console.cli",
            "drill",
            "--headless",
            "--fail",
            step,
            "--dir",
            str(root),
            "--keep",
        ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=150, check=False)


@pytest.fixture(scope="module")
def drills(tmp_path_factory) -> dict[str, tuple[Path, Future]]:
    """Every rehearsal started at once (the slow ones first), each in its own sandbox."""
    base = tmp_path_factory.mktemp("fail")
    steps = sorted(DEFAULT_STEPS + SYSTEMD_STEPS, key=lambda s: s not in SLOW_FIRST)
    with ThreadPoolExecutor(max_workers=8) as pool:
        yield {step: (base / step, pool.submit(_drill, step, base / step)) for step in steps}


def test_every_automated_step_of_the_builtin_runbook_can_be_rehearsed_failing():
    for variants in (None, SYSTEMD):
        automated = [step for step, auto in drill_steps(RUNBOOK, variants) if auto]
        assert failable_steps(RUNBOOK, variants) == automated
    assert set(IN_ITS_OWN_WORDS) <= set(DEFAULT_STEPS)
    assert {"stop-services-systemd", "restart-services-systemd", "verify-logs-systemd"} <= set(SYSTEMD_STEPS)


@pytest.mark.parametrize("step", DEFAULT_STEPS + SYSTEMD_STEPS)
def test_fail_stops_the_drill_at_that_step_with_it_failed(drills, step):
    root, running = drills[step]
    result = running.result()
    out = result.stdout
    assert result.returncode == 1, out[-3000:] + result.stderr[-3000:]
    assert f"rehearsing a failure of {step}: " in out
    assert f"✗ {step} failed" in out
    assert "all automated steps succeeded" not in out and "closed: resolved" not in out
    [incident] = (root / "warroom" / "incidents").iterdir()
    records, _ = read_records(incident / "journal.jsonl")
    started = [r["data"]["step"] for r in records if r["type"] == "step.started"]
    assert started[-1] == step and started.count(step) == 1  # stopped there, nothing after it ran
    state = fold(records)
    assert state.steps[step].status == "failed"
    if step in IN_ITS_OWN_WORDS:
        assert IN_ITS_OWN_WORDS[step] in out
    else:
        assert f"drill: rehearsed failure of {step}" in out


@pytest.mark.parametrize("step", ["notify-stakeholders", "stop-services-systemd", "nonsense"])
def test_fail_on_a_manual_or_unknown_step_is_one_line_listing_the_automated_steps(tmp_path, step):
    argv = [sys.executable, "-m", "console.cli", "drill", "--headless", "--fail", step, "--dir", str(tmp_path / "x")]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert f"--fail {step}: " in line
    why = {
        "notify-stakeholders": "is a manual checklist",
        "stop-services-systemd": "is a step of the deploy_mode = systemd variant, which this drill does not rehearse",
    }.get(step, "is not a step of the drill's plan")
    assert why in line
    assert "rehearse a failure of one of: " + ", ".join(DEFAULT_STEPS) in line
    assert not (tmp_path / "x").exists()
