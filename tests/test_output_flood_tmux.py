"""After a flood, the last line reaches real terminals (tmux): the driver's ``warroom run`` and a
``warroom watch`` observer's, without a resize. The Pilot side is in test_output_flood.py.

The watcher is 120 columns wide: there the "succeeded" toast used to sit over the pane's last
line for its three seconds (toasts now show at the top)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from conftest import ssh_step, write_config, write_runbook
from test_drill_tmux import WARROOM

pytestmark = [
    pytest.mark.sshd,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed: run ./scripts/test"),
]
LINES = 300_000
LAST = f"flood-{LINES:06d}"
FLOOD = ssh_step("flood", f'seq -f "flood-%06.0f" 1 {LINES}', targets="h1", timeout=120)
DRIVER, WATCHER = f"warroom-flood-driver-{os.getpid()}", f"warroom-flood-watch-{os.getpid()}"
REPO = Path(__file__).resolve().parents[1]
PAINT_BOUND = 10.0  # seconds from the step's end: generous, this is no benchmark


def capture(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout


def wait_for(session: str, text: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while text not in (shown := capture(session)):
        assert time.monotonic() < deadline, f"{text!r} never appeared in {session}:\n{shown}"
        time.sleep(0.1)
    return shown


def finished(journal) -> dict | None:
    for line in journal.read_text().splitlines():
        record = json.loads(line) if line.endswith("}") else {}
        if record.get("type") == "step.finished" and record["data"]["step"] == "flood":
            return record
    return None


def test_the_last_line_of_a_flood_reaches_the_drivers_and_a_watchers_terminal(tmp_path, lab):
    cfg = write_config(tmp_path / "config.toml", lab, ["h1"])
    rb = write_runbook(tmp_path / "rb.toml", FLOOD)
    # pytest exports COLUMNS/LINES: the apps must measure their tmux panes instead; tmux passes its
    # server's environment, not ours: this checkout's code, not whichever one the venv installed
    env = f"env -u COLUMNS -u LINES PYTHONPATH={REPO}"
    run = f"{env} {WARROOM} run -c {cfg} --runbook {rb} --severity P0 --trigger flood; sleep 60"
    try:
        subprocess.run(["tmux", "new-session", "-d", "-x", "150", "-y", "40", "-s", DRIVER, run], check=True)
        wait_for(DRIVER, "Open incident")
        subprocess.run(["tmux", "send-keys", "-t", DRIVER, "C-o"], check=True)
        wait_for(DRIVER, "INC ")
        [journal] = (tmp_path / "state").glob("incidents/*/journal.jsonl")
        watch = f"{env} {WARROOM} watch {journal.parent.name} -c {cfg}; sleep 60"
        subprocess.run(["tmux", "new-session", "-d", "-x", "120", "-y", "40", "-s", WATCHER, watch], check=True)
        wait_for(WATCHER, "(observer)")
        subprocess.run(["tmux", "send-keys", "-t", DRIVER, "n"], check=True)
        deadline = time.monotonic() + 60
        while (done := finished(journal)) is None:
            assert time.monotonic() < deadline, f"the flood never finished:\n{capture(DRIVER)}"
            time.sleep(0.05)
        assert done["data"]["outcome"] == "succeeded", done
        ended = time.monotonic()
        screens: dict[str, str] = {}
        while len(screens) < 2:  # both terminals polled in turn: each one's delay, not their sum
            for session in {DRIVER, WATCHER} - screens.keys():
                if LAST in (shown := capture(session)):
                    screens[session] = shown
                    print(f"\n{session}: {LAST} shown {(time.monotonic() - ended) * 1000:.0f} ms after step.finished")
                elif time.monotonic() - ended > PAINT_BOUND:
                    raise AssertionError(f"{LAST!r} never appeared in {session}:\n{shown}")
            time.sleep(0.02)
        for shown in screens.values():
            rows = shown.splitlines()
            [row] = [n for n, text in enumerate(rows) if LAST in text]
            assert f"flood-{LINES - 1:06d}" in rows[row - 1]  # the pane's last rows, in order
    finally:
        for session in (DRIVER, WATCHER):
            subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
