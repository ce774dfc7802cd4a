"""``run --headless`` and destructive steps: nobody is at a keyboard, so the word is given up front
(``--confirm WORD`` or ``--yes``) or the run stops before the step with its hosts untouched."""

from __future__ import annotations

import pytest
from conftest import ssh_step
from test_headless import journal_records, setup, warroom

pytestmark = pytest.mark.sshd

STEPS = ssh_step("prepare", 'touch "$HOSTDIR/prepared"') + ssh_step(
    "wipe", 'touch "$HOSTDIR/wiped"', extra='destructive = true\nconfirm = "wipe"\n'
)


def started(records: list[dict]) -> list[str]:
    return [r["data"]["step"] for r in records if r["type"] == "step.started"]


def test_unconfirmed_destructive_step_stops_the_run_before_it_then_confirm_resumes(tmp_path, lab):
    cfg, rb = setup(tmp_path, lab, STEPS)
    result = warroom("run", "-c", str(cfg), "--runbook", str(rb), "--headless")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "✗ stopped before wipe: destructive; confirm with --confirm wipe or --yes" in result.stdout
    _, records = journal_records(tmp_path)
    incident = records[0]["data"]["incident"]
    assert f"--incident {incident} --confirm wipe" in result.stdout
    assert started(records) == ["prepare"]
    assert not any(r["type"] == "command.refused" for r in records)
    for host in lab.hosts.values():
        assert (host.root / "prepared").exists()
        assert not (host.root / "wiped").exists()

    resumed = warroom(
        "run", "-c", str(cfg), "--runbook", str(rb), "--headless", "--incident", incident, "--confirm", "other,wipe"
    )
    assert resumed.returncode == 2, resumed.stdout + resumed.stderr  # a word no step asks for is a typo
    assert "--confirm other: no destructive step asks for this word (words: wipe)" in resumed.stderr
    assert not any((host.root / "wiped").exists() for host in lab.hosts.values())

    resumed = warroom(
        "run", "-c", str(cfg), "--runbook", str(rb), "--headless", "--incident", incident, "--confirm", "wipe"
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "✓ wipe succeeded" in resumed.stdout
    _, records = journal_records(tmp_path)
    assert started(records) == ["prepare", "wipe"]
    [wipe] = [r for r in records if r["type"] == "step.started" and r["data"]["step"] == "wipe"]
    assert wipe["data"]["confirmed"] is True
    assert all((host.root / "wiped").exists() for host in lab.hosts.values())


def test_yes_runs_every_destructive_step(tmp_path, lab):
    cfg, rb = setup(tmp_path, lab, STEPS, hosts=("h1",))
    result = warroom("run", "-c", str(cfg), "--runbook", str(rb), "--headless", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (lab.hosts["h1"].root / "wiped").exists()


def test_confirm_words_are_for_headless_and_a_typo_opens_nothing(tmp_path, lab):
    cfg, rb = setup(tmp_path, lab, STEPS, hosts=("h1",))
    console = warroom("run", "-c", str(cfg), "--runbook", str(rb), "--confirm", "wipe")
    assert console.returncode == 2
    assert "--confirm and --yes are for --headless" in console.stderr
    typo = warroom("run", "-c", str(cfg), "--runbook", str(rb), "--headless", "--confirm", "wpie")
    assert typo.returncode == 2
    assert typo.stderr.strip() == (
        "warroom: Invalid input: --confirm wpie: no destructive step asks for this word (words: wipe)"
    )
    assert not (tmp_path / "state" / "incidents").exists() or not any((tmp_path / "state" / "incidents").iterdir())
    assert not (lab.hosts["h1"].root / "prepared").exists()
