"""A warroom killed while an ansible step runs: resume shows the step interrupted (outcome unknown)
and never re-runs it by itself; a retry is refused while the earlier ansible run is still alive on
this machine (ansible-playbook ignores its terminal's SIGHUP), then runs once it is gone."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ansible_support import PY, ansible_step, processes_with, write_playbook
from conftest import write_config, write_runbook

pytestmark = pytest.mark.sshd
PLAYBOOK = """
- name: Slow unless told
  hosts: app
  gather_facts: false
  tasks:
    - name: Maybe sleep
      ansible.builtin.shell: 'if [ -e "$HOSTDIR/go" ]; then echo quick; else sleep 60; fi'
"""


def warroom(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "console.cli", *args], capture_output=True, text=True, timeout=180)


def test_killed_mid_step_then_resume_shows_interrupted_and_a_retry_waits_for_the_old_run(tmp_path, lab):
    write_playbook(tmp_path / "site.yml", PLAYBOOK)
    cfg = write_config(tmp_path / "config.toml", lab, ["h1", "h2"])
    rb = write_runbook(tmp_path / "runbook.toml", ansible_step("slow", playbook="site.yml", vars=PY))
    proc = subprocess.Popen(
        [sys.executable, "-m", "console.cli", "run", "-c", str(cfg), "--runbook", str(rb), "--headless"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            logs = list((tmp_path / "state").glob("incidents/*/outputs/slow/1/*.log"))
            if len(logs) == 2 and all("TASK [Maybe sleep]" in p.read_text() for p in logs):
                break
            assert time.monotonic() < deadline, "the ansible step never reached its task on both hosts"
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    [incident_dir] = (tmp_path / "state" / "incidents").iterdir()
    incident = incident_dir.name
    left = [p for p in processes_with(str(tmp_path / "site.yml")) if "ansible-playbook" in p]
    assert left, "ansible-playbook outlived warroom (the case the retry guards against)"

    resumed = warroom("run", "-c", str(cfg), "--runbook", str(rb), "--headless", "--incident", incident)
    assert resumed.returncode == 1
    assert "step slow was interrupted - outcome unknown" in resumed.stdout
    records = [json.loads(line) for line in (incident_dir / "journal.jsonl").read_text().splitlines()]
    assert [r["type"] for r in records].count("step.started") == 1, "nothing ran by itself"

    again = ("run", "-c", str(cfg), "--runbook", str(rb), "--headless", "--incident", incident, "--retry", "slow")
    refused = warroom(*again)
    assert refused.returncode == 1
    assert "an earlier attempt's ansible run is still running on this machine" in refused.stdout
    pids = [int(p) for p in re.search(r"\(pids ([\d ]+);", refused.stdout).group(1).split()]
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    for host in lab.hosts.values():
        (host.root / "go").touch()
    deadline = time.monotonic() + 10
    while [p for p in processes_with(str(tmp_path / "site.yml")) if "ansible-playbook" in p]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    retried = warroom(*again)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert "✓ slow succeeded" in retried.stdout
    assert "h1: ok (ansible changed, ok=1 changed=1" in retried.stdout
    assert "  stdout| quick" in Path(incident_dir / "outputs" / "slow" / "3" / "h1.log").read_text()
