"""``warroom run --headless`` end to end against real sshd hosts, including a SIGKILL and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ssh_step, write_config, write_runbook

pytestmark = pytest.mark.sshd

MANUAL = """
[[phases.steps]]
id = "verify"
title = "Functional Testing"
kind = "manual"
checks = [{ id = "auth", text = "User authentication works" }]
"""


def warroom(*args: str, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console.cli", *args], capture_output=True, text=True, timeout=120, **kw
    )


def setup(tmp_path: Path, lab, steps: str, hosts=("h1", "h2", "h3")) -> tuple[Path, Path]:
    cfg = write_config(tmp_path / "config.toml", lab, list(hosts))
    rb = write_runbook(tmp_path / "runbook.toml", steps)
    return cfg, rb


def journal_records(tmp_path: Path) -> tuple[Path, list[dict]]:
    [directory] = (tmp_path / "state" / "incidents").iterdir()
    path = directory / "journal.jsonl"
    return path, [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def test_headless_run_succeeds_and_lists_open_manual_checks(tmp_path, lab):
    steps = ssh_step("one", 'echo one > "$HOSTDIR/one"') + ssh_step("two", 'echo two > "$HOSTDIR/two"') + MANUAL
    cfg, rb = setup(tmp_path, lab, steps)
    result = warroom("run", "-c", str(cfg), "--runbook", str(rb), "--headless", "--severity", "P1", "--trigger", "t")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "P1 High, RTO 30 min" in result.stdout
    assert "✓ one succeeded" in result.stdout and "✓ two succeeded" in result.stdout
    assert "1 manual checks still open" in result.stdout and "User authentication works" in result.stdout
    for host in lab.hosts.values():
        assert (host.root / "two").read_text() == "two\n"
    listing = warroom("incidents", "-c", str(cfg))
    assert "open" in listing.stdout and "2/2" in listing.stdout


def test_failing_host_stops_the_headless_run(tmp_path, lab):
    steps = ssh_step("one", 'if [ -e "$HOSTDIR/bad" ]; then echo "disk full" >&2; exit 4; fi') + ssh_step(
        "two", 'touch "$HOSTDIR/two"'
    )
    cfg, rb = setup(tmp_path, lab, steps)
    (lab.hosts["h2"].root / "bad").touch()
    result = warroom("run", "-c", str(cfg), "--runbook", str(rb), "--headless")
    assert result.returncode == 1
    assert "h2: failed (exit 4" in result.stdout
    assert "| disk full" in result.stdout
    assert "✗ one failed" in result.stdout
    assert "two" not in [r["data"].get("step") for r in journal_records(tmp_path)[1] if r["type"] == "step.started"]
    assert not any((h.root / "two").exists() for h in lab.hosts.values())


def test_sigkill_mid_step_then_resume_shows_interrupted_and_loses_nothing(tmp_path, lab):
    steps = (
        ssh_step("first", 'touch "$HOSTDIR/first"')
        + ssh_step("slow", 'if [ -e "$HOSTDIR/go" ]; then echo quick; else sleep 60; fi', timeout=120)
        + ssh_step("last", 'touch "$HOSTDIR/last"')
    )
    cfg, rb = setup(tmp_path, lab, steps, hosts=("h1", "h2"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "console.cli", "run", "-c", str(cfg), "--runbook", str(rb), "--headless"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            incidents = tmp_path / "state" / "incidents"
            if incidents.exists() and any(incidents.iterdir()):
                _, records = journal_records(tmp_path)
                slow = [r for r in records if r["type"] == "step.remote_started" and r["data"]["step"] == "slow"]
                running = {r["data"]["host"] for r in slow}
                if {"h1", "h2"} <= running:  # both remote commands are journaled: the kill lands mid-step
                    break
            assert time.monotonic() < deadline, "slow step never started on both hosts"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    path, before = journal_records(tmp_path)
    before_bytes = path.read_bytes()
    assert before[-1]["type"] in ("step.started", "step.remote_started") and before[-1]["data"]["step"] == "slow"
    assert not [r for r in before if r["type"] == "step.finished" and r["data"]["step"] == "slow"]
    incident = before[0]["data"]["incident"]

    listing = warroom("incidents", "-c", str(cfg))
    assert "crashed" in listing.stdout

    resumed = warroom("run", "-c", str(cfg), "--runbook", str(rb), "--headless", "--incident", incident)
    assert resumed.returncode == 1
    assert "step slow was interrupted - outcome unknown" in resumed.stdout
    assert "--retry slow" in resumed.stdout
    after_bytes = path.read_bytes()
    assert after_bytes.startswith(before_bytes), "an earlier record was lost or changed"
    _, after = journal_records(tmp_path)
    assert [r["type"] for r in after[len(before) :]][:2] == ["incident.resumed", "step.interrupted"]
    assert not any((h.root / "last").exists() for h in lab.hosts.values()), "nothing ran by itself"

    # the killed run's remote `sleep 60` goes on without anyone watching it: said, and a retry waits for it
    assert "its command is still running on h" in resumed.stdout
    for host in lab.hosts.values():
        (host.root / "go").touch()
    again = ("run", "-c", str(cfg), "--runbook", str(rb), "--headless", "--incident", incident, "--retry", "slow")
    refused = warroom(*again)
    assert refused.returncode == 1 and "interrupted command is still running on h" in refused.stdout
    subprocess.run(["pkill", "-f", "sleep 60"], check=False)
    time.sleep(0.5)
    retried = warroom(*again)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert "✓ slow succeeded" in retried.stdout and "✓ last succeeded" in retried.stdout
    assert "first" not in [
        r["data"].get("step") for r in journal_records(tmp_path)[1][len(before) :] if r["type"] == "step.started"
    ]
    verified = warroom("journal", "verify", incident, "-c", str(cfg))
    assert verified.returncode == 0, verified.stderr


def test_torn_record_after_crash_is_set_aside_on_resume(tmp_path, lab):
    cfg, rb = setup(tmp_path, lab, ssh_step("one", "true") + ssh_step("two", 'touch "$HOSTDIR/two"'), hosts=("h1",))
    first = warroom("run", "-c", str(cfg), "--runbook", str(rb), "--headless", "--skip", "two", "--reason", "later")
    assert first.returncode == 0, first.stdout + first.stderr
    path, _records = journal_records(tmp_path)
    with path.open("ab") as handle:
        handle.write(b'{"seq":99,"type":"step.sta')
    torn_check = warroom("journal", "verify", str(path))
    assert torn_check.returncode == 1 and "torn record" in torn_check.stderr
    resumed = warroom("run", "-c", str(cfg), "--runbook", str(rb), "--headless", "--incident", str(path.parent))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "torn last record (26 bytes) was set aside" in resumed.stdout
    assert list(path.parent.glob("journal.jsonl.torn-*"))
    assert warroom("journal", "verify", str(path)).returncode == 0


def test_detected_at_is_journaled_and_a_bad_one_refused(tmp_path, lab):
    cfg, rb = setup(tmp_path, lab, ssh_step("one", "true"), hosts=("h1",))
    bad = warroom("run", "-c", str(cfg), "--runbook", str(rb), "--headless", "--detected-at", "yesterday-ish")
    assert bad.returncode == 2 and "--detected-at 'yesterday-ish': not an ISO 8601 time" in bad.stderr
    ok = warroom("run", "-c", str(cfg), "--runbook", str(rb), "--headless", "--detected-at", "2026-01-02T03:04:05Z")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    opened = journal_records(tmp_path)[1][0]
    assert opened["data"]["detected_at"] == "2026-01-02T03:04:05.000Z"
    breach = [r for r in journal_records(tmp_path)[1] if r["type"] == "rto.breached"]
    assert breach and breach[0]["data"]["deadline"] == "2026-01-02T03:19:05.000Z"
