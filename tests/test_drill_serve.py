"""``warroom drill --serve PORT``: trainees join the drill over SSH and watch, read-only."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from test_drill_tmux import WARROOM

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None or shutil.which("ssh") is None, reason="tmux and ssh needed: run ./scripts/test"
)
DRIVER, TRAINEE = f"warroom-drill-serve-driver-{os.getpid()}", f"warroom-drill-serve-trainee-{os.getpid()}"


def screen(name: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", name], capture_output=True, text=True).stdout


def wait_screen(name: str, text: str, timeout: float = 25) -> str:
    deadline = time.monotonic() + timeout
    while text not in (shown := screen(name)):
        assert time.monotonic() < deadline, f"{text!r} never appeared on {name}:\n{shown}"
        time.sleep(0.1)
    return shown


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_trainee_joins_the_drill_as_an_observer(tmp_path: Path):
    key = tmp_path / "trainee"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tina@laptop", "-f", str(key)], check=True)
    authorized = tmp_path / "authorized_keys"
    authorized.write_text(key.with_suffix(".pub").read_text())
    port, box = free_port(), tmp_path / "box"
    drill = f"env -u COLUMNS -u LINES {WARROOM} drill --dir {box} --serve {port} --authorized-keys {authorized}"
    subprocess.run(["tmux", "new-session", "-d", "-x", "150", "-y", "44", "-s", DRIVER, drill], check=True)
    try:
        wait_screen(DRIVER, "Open incident")
        subprocess.run(["tmux", "send-keys", "-t", DRIVER, "C-o"], check=True)
        wait_screen(DRIVER, "Drill served")
        known = tmp_path / "known_hosts"
        host_pub = (box / "warroom_host_key.pub").read_text().split()
        known.write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
        ssh = (
            f"env -u COLUMNS -u LINES ssh -F /dev/null -tt -p {port} -i {key} -o IdentitiesOnly=yes -o BatchMode=yes "
            f"-o UserKnownHostsFile={known} -o StrictHostKeyChecking=yes tina@127.0.0.1"
        )
        subprocess.run(["tmux", "new-session", "-d", "-x", "150", "-y", "44", "-s", TRAINEE, ssh], check=True)
        shown = wait_screen(TRAINEE, "shared view: press a key for your own")  # rendered once for all trainees
        assert "driver: " in shown
        wait_screen(DRIVER, "1 watching")
        subprocess.run(["tmux", "send-keys", "-t", DRIVER, "n"], check=True)  # the driver runs step 1
        wait_screen(TRAINEE, "Application is now in maintenance mode")  # the trainee sees it live
        subprocess.run(["tmux", "send-keys", "-t", TRAINEE, "Down"], check=True)  # a key: a console of her own
        shown = wait_screen(TRAINEE, "you: tina (observer)")
        assert "1 watching" in shown  # still counted once: her session, not its consoles
    finally:
        for name in (TRAINEE, DRIVER):
            subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)
