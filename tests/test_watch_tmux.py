"""``warroom watch`` follows a running incident read-only, in a real terminal (tmux)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest
from conftest import ssh_step, write_config, write_runbook
from test_drill_tmux import WARROOM

pytestmark = [
    pytest.mark.sshd,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed: run ./scripts/test"),
]
SESSION = f"warroom-watch-test-{os.getpid()}"  # never another run's session


def capture() -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", SESSION], capture_output=True, text=True).stdout


def wait_for(text: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while text not in (shown := capture()):
        assert time.monotonic() < deadline, f"{text!r} never appeared:\n{shown}"
        time.sleep(0.1)
    return shown


def test_watch_follows_a_headless_run_and_cannot_act(tmp_path, lab):
    steps = ssh_step("first", 'echo "first done on $HOSTDIR"') + ssh_step(
        "slow", "for i in 1 2 3 4 5 6 7 8 9 10; do echo tick-$i; sleep 1; done", timeout=60
    )
    cfg = write_config(tmp_path / "config.toml", lab, ["h1"])
    rb = write_runbook(tmp_path / "rb.toml", steps)
    run = subprocess.Popen(
        [sys.executable, "-m", "console.cli", "run", "-c", str(cfg), "--runbook", str(rb), "--headless"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not list((tmp_path / "state").glob("incidents/*/attach.path")):
            assert time.monotonic() < deadline and run.poll() is None, "the headless run never served its socket"
            time.sleep(0.05)
        [pointer] = (tmp_path / "state").glob("incidents/*/attach.path")
        incident = pointer.parent.name
        command = f"env -u COLUMNS -u LINES {WARROOM} watch {incident} -c {cfg}"
        subprocess.run(["tmux", "new-session", "-d", "-x", "150", "-y", "40", "-s", SESSION, command], check=True)
        shown = wait_for(f"INC {incident}")
        assert "you: " in shown and "(observer)" in shown
        wait_for("tick-")  # live output of the running step, streamed to the watcher
        before = pointer.parent.joinpath("journal.jsonl").read_text().count('"command.refused"')
        subprocess.run(["tmux", "send-keys", "-t", SESSION, "x", "s", "n"], check=True)
        time.sleep(0.5)
        assert run.poll() is None or run.returncode == 0
        journal = pointer.parent.joinpath("journal.jsonl").read_text()
        assert '"step.cancel_requested"' not in journal and '"step.skipped"' not in journal
        # shown disabled, but sent: the engine refuses each press and journals it
        assert journal.count('"command.refused"') == before + 3
        assert run.wait(60) == 0, run.stdout.read() if run.stdout else ""
        wait_for("✓ Step slow")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
        if run.poll() is None:
            run.kill()
            run.wait()
        if run.stdout:
            run.stdout.close()
