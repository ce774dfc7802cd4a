"""``warroom drill`` driven as a person would: keys into tmux, the screen read back with capture-pane.

It opens the incident, runs every automated step with ``n`` (typing the confirmation word of the
destructive ones), ticks every manual check with ``p``, closes the incident and reads the game-day
score, from the first phase to the last.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from actions.registry import KINDS
from console.model.runbook import load_runbook

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed: run ./scripts/test")
SESSION = f"warroom-drill-test-{os.getpid()}"  # never another run's session
WARROOM = str(Path(sys.executable).with_name("warroom"))


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


def screen() -> str:
    return tmux("capture-pane", "-p", "-t", SESSION)


def keys(*names: str) -> None:
    tmux("send-keys", "-t", SESSION, *names)


def wait_screen(text: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while True:
        shown = screen()
        if text in shown:
            return shown
        assert time.monotonic() < deadline, f"{text!r} never appeared; screen:\n{shown}"
        time.sleep(0.1)


def records(state: Path) -> list[dict]:
    journals = list(state.glob("incidents/*/journal.jsonl"))
    if not journals:
        return []
    return [json.loads(line) for line in journals[0].read_text().splitlines() if line.endswith("}")]


def wait_record(state: Path, predicate, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        found = [r for r in records(state) if predicate(r)]
        if found:
            return found[-1]
        assert time.monotonic() < deadline, f"no such record; screen:\n{screen()}"
        time.sleep(0.1)


def test_drill_from_opening_to_the_last_phase(tmp_path):
    box, state = tmp_path / "box", tmp_path / "state"
    # pytest exports COLUMNS/LINES; the app must measure the real tmux pane instead
    command = f"env -u COLUMNS -u LINES {WARROOM} drill --dir {box} --state-dir {state} --keep; sleep 60"
    tmux("new-session", "-d", "-x", "160", "-y", "48", "-s", SESSION, command)
    try:
        wait_screen("Open incident")
        keys("C-o")
        wait_screen("INC ")
        plan = json.loads(json.dumps(records(state)[0]["data"]["plan"]))
        for phase in plan["phases"]:
            wait_screen(phase["title"])  # the countdown pane names the current phase
            for step_id in phase["steps"]:
                step = plan["steps"][step_id]
                if step["automated"]:
                    keys("n")
                    if step["destructive"]:
                        wait_screen(f"Type {step['confirm']} to run it")
                        keys(step["confirm"], "Enter")
                    done = wait_record(
                        state, lambda r, s=step_id: r["type"] == "step.finished" and r["data"]["step"] == s
                    )
                    assert done["data"]["outcome"] == "succeeded", done
                    wait_screen(f"✓ {step['title']}")  # the screen (and its cursor) caught up
                else:
                    for check_id, text in step["checks"]:
                        keys("p")
                        wait_screen("Note (optional)")
                        keys("Enter")
                        wait_record(
                            state,
                            lambda r, s=step_id, c=check_id: (
                                r["type"] == "check.ticked" and (r["data"]["step"], r["data"]["check"]) == (s, c)
                            ),
                        )
                        wait_screen(f"[✓] {text}")
        shown = wait_screen("all phases done")
        assert "[✓] No critical alerts" in shown
        keys("C-e")
        wait_screen("Close the incident")
        keys("Enter")
        wait_screen("Summary")
        time.sleep(0.2)
        keys("done in the drill", "Enter")
        scored = wait_screen("Game-day score")
        for number, phase in enumerate(plan["phases"], start=1):
            assert f"Phase {number} {phase['title']}" in scored
        closed = wait_record(state, lambda r: r["type"] == "incident.closed")
        assert closed["data"]["outcome"] == "resolved"
        keys("q")
        time.sleep(0.3)
        keys("q")
        wait_screen("sandbox kept")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
    head = subprocess.run(
        ["git", "-C", str(box / "srv/salonmanager"), "describe", "--tags"], capture_output=True, text=True
    )
    assert head.stdout.strip() == "v0.9.0"
    assert load_runbook("salonmanager", KINDS)  # the plan the drill ran is the built-in one
