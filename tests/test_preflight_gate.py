"""The preflight gate end to end through the CLI, against real sshd hosts: a run that would fail is
refused before anything is opened or any host touched; ``--force`` starts anyway and journals what
it overrode; a passing gate is journaled compactly; ``check``, ``serve`` and the console's run
show the same table and refuse the same way; the drill passes its gate."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import declare, ssh_step, write_config, write_runbook
from report_support import validate

from console.engine.preflight import SSH_CHECK

pytestmark = pytest.mark.sshd

UNSET = "WR_GATE_TEST_UNSET_SECRET"
DATABASE = f"""
[vars.database]
name = "app"
user = "app"
password = "env:{UNSET}"
"""
SECRET_CHECK = f"secret database.password (env:{UNSET})"
# the first step changes every host; the second needs the database secret
STEPS = ssh_step("maintenance", 'touch "$HOSTDIR/maintenance"', extra='cwd = "/"\n') + ssh_step(
    "migrate",
    'test -n "$DB_PASS" && touch "$HOSTDIR/migrated"',
    extra='secret_env = { DB_PASS = "database.password" }\n',
)


def warroom(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != UNSET} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "console.cli", *args], capture_output=True, text=True, timeout=120, env=environ
    )


def gate_rows(stdout: str) -> dict[tuple[str, str], str]:
    """The preflight table as ``(host, check) -> result`` (columns are two or more spaces apart)."""
    rows = [re.split(r"\s{2,}", line, maxsplit=2) for line in stdout.splitlines()]
    return {(r[0], r[1]): r[2] for r in rows if len(r) == 3 and r[0] != "HOST"}


def host_files(lab) -> dict[str, list[str]]:
    return {name: sorted(p.name for p in host.root.iterdir()) for name, host in lab.hosts.items()}


def incidents(tmp_path: Path) -> list[Path]:
    directory = tmp_path / "state" / "incidents"
    return sorted(directory.iterdir()) if directory.exists() else []


def journal(directory: Path) -> list[dict]:
    return [json.loads(line) for line in (directory / "journal.jsonl").read_text().splitlines()]


def setup(tmp_path: Path, lab, hosts=("h1", "h2"), steps: str = STEPS, **kw) -> tuple[Path, Path]:
    cfg = write_config(tmp_path / "config.toml", lab, list(hosts), extra=DATABASE, **kw)
    variables = declare(database__name="string", database__user="string", database__password="secret")
    rb = write_runbook(tmp_path / "runbook.toml", steps, variables=variables)
    return cfg, rb


def test_an_unset_secret_refuses_the_run_before_any_host_is_touched(tmp_path, lab):
    cfg, rb = setup(tmp_path, lab)
    before = host_files(lab)
    result = warroom("run", "-c", str(cfg), "--runbook", str(rb), "--headless")
    assert result.returncode == 1, result.stdout + result.stderr
    rows = gate_rows(result.stdout)
    secret = rows[("warroom", SECRET_CHECK)]
    assert secret.startswith("FAIL: ") and f"environment variable {UNSET} is not set" in secret
    assert "(needed by step migrate)" in secret
    assert rows[("h1", SSH_CHECK)].startswith("ok: ") and rows[("h2", "cwd /")] == "ok: exists"
    assert "preflight: 1 of 5 checks failed on 2 hosts" in result.stdout
    assert "warroom: Preflight failed: 1 of 5 checks failed" in result.stderr
    assert "--force" in result.stderr and "Traceback" not in result.stderr
    assert "incident" not in result.stdout.split("preflight:")[0].lower()
    assert incidents(tmp_path) == []
    assert host_files(lab) == before  # no maintenance file on any host


def test_a_changed_host_key_refuses_the_run_before_the_other_hosts_are_touched(tmp_path, lab):
    h1, h2 = lab.start("h1"), lab.start("h2")
    known = tmp_path / "known_hosts"
    lab.write_unknown_key_known_hosts(h2, known)  # h2's entry: another key of the same type
    known.write_text(h1.known_hosts_line + "\n" + known.read_text())
    cfg, rb = setup(tmp_path, lab, known_hosts=known)
    before = host_files(lab)
    result = warroom("run", "-c", str(cfg), "--runbook", str(rb), "--headless", env={UNSET: "pw"})
    assert result.returncode == 1, result.stdout + result.stderr
    rows = gate_rows(result.stdout)
    assert rows[("h1", SSH_CHECK)].startswith("ok: ")
    assert rows[("h2", SSH_CHECK)].startswith("FAIL: ") and "host key CHANGED" in rows[("h2", SSH_CHECK)]
    assert rows[("h2", "cwd /")] == "skip: not tried: the host cannot be reached"
    assert rows[("warroom", SECRET_CHECK)] == "ok: resolves"
    assert incidents(tmp_path) == [] and host_files(lab) == before


def test_force_starts_anyway_and_journals_what_it_overrode(tmp_path, lab):
    cfg, rb = setup(tmp_path, lab)
    result = warroom("run", "-c", str(cfg), "--runbook", str(rb), "--headless", "--force")
    # the run started: maintenance ran on both hosts, then the step that needs the secret failed
    assert "--force: starting anyway; the 1 failed checks are journaled" in result.stdout
    assert result.returncode == 1 and "✓ maintenance succeeded" in result.stdout, result.stdout + result.stderr
    assert all("maintenance" in files for files in host_files(lab).values())
    [directory] = incidents(tmp_path)
    records = journal(directory)
    assert [r["type"] for r in records[:2]] == ["incident.opened", "preflight.overridden"]
    data = records[1]["data"]
    assert data["checks"] == 5 and data["hosts"] == ["h1", "h2"]
    [failed] = data["failed"]
    assert failed["host"] == "warroom" and failed["check"] == SECRET_CHECK and failed["steps"] == ["migrate"]
    assert f"{UNSET} is not set" in failed["detail"]
    report = warroom("report", str(directory))
    assert report.returncode == 0, report.stderr
    timeline = report.stdout.split("## Timeline")[1].split("## Steps")[0]
    assert "Preflight gate OVERRIDDEN by" in timeline and "(--force): 1 of 5 checks on 2 hosts failed" in timeline
    assert f"secret database.password (env:{UNSET})" in timeline.replace("\\", "")
    as_json = validate(warroom("report", str(directory), "--format", "json").stdout)  # the schema knows it
    assert as_json["preflight"]["verdict"] == "overridden" and as_json["preflight"]["failed"][0]["steps"] == ["migrate"]
    html = warroom("report", str(directory), "--format", "html").stdout
    timeline = html.split('<section id="timeline">')[1].split("</section>")[0]
    assert '<p class="s-failed"><strong>Preflight gate OVERRIDDEN by' in timeline and SECRET_CHECK in timeline


def test_a_passing_gate_is_journaled_compactly_and_never_holds_the_secret(tmp_path, lab):
    cfg, rb = setup(tmp_path, lab)
    secret = "s3cret-value-of-the-gate"
    result = warroom("run", "-c", str(cfg), "--runbook", str(rb), "--headless", env={UNSET: secret})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "preflight: all 5 checks passed on 2 hosts" in result.stdout
    assert all("migrated" in files for files in host_files(lab).values())
    [directory] = incidents(tmp_path)
    records = journal(directory)
    assert records[1]["type"] == "preflight.passed"
    assert set(records[1]["data"]) == {"checks", "hosts", "seconds"} and records[1]["data"]["checks"] == 5
    assert secret not in result.stdout + (directory / "journal.jsonl").read_text()
    report = warroom("report", str(directory)).stdout
    assert "Preflight gate passed at T+" in report and ": 5 checks on 2 hosts." in report


def test_check_exits_1_naming_an_unset_secret_and_0_once_it_is_set(tmp_path, lab):
    cfg, rb = setup(tmp_path, lab)
    result = warroom("check", "-c", str(cfg), "--runbook", str(rb))
    assert result.returncode == 1, result.stdout + result.stderr
    assert gate_rows(result.stdout)[("warroom", SECRET_CHECK)].startswith("FAIL: ")
    assert "a run would be refused" in result.stdout
    ready = warroom("check", "-c", str(cfg), "--runbook", str(rb), env={UNSET: "pw"})
    assert ready.returncode == 0, ready.stdout + ready.stderr
    assert gate_rows(ready.stdout)[("warroom", SECRET_CHECK)] == "ok: resolves"
    assert "pw" not in ready.stdout.replace("passed", "")


def test_serve_and_the_console_run_refuse_before_opening_anything(tmp_path, lab):
    cfg, rb = setup(tmp_path, lab)
    before = host_files(lab)
    served = warroom("serve", "-c", str(cfg), "--runbook", str(rb))
    assert served.returncode == 1 and "Preflight failed" in served.stderr, served.stdout + served.stderr
    assert gate_rows(served.stdout)[("warroom", SECRET_CHECK)].startswith("FAIL: ")
    # the console: the gate runs behind its first frame; a refusal ends it before anything is
    # opened, with the table on stdout once the screen (Textual draws on stderr) is gone
    console = warroom("run", "-c", str(cfg), "--runbook", str(rb))
    assert console.returncode == 1 and "Preflight failed" in console.stderr, console.stdout + console.stderr
    assert gate_rows(console.stdout)[("warroom", SECRET_CHECK)].startswith("FAIL: ")
    assert "\x1b[" not in console.stdout  # only the table: no screen on stdout
    assert incidents(tmp_path) == [] and host_files(lab) == before


def test_the_drill_passes_its_gate_and_journals_it(tmp_path):
    state = tmp_path / "drill-state"
    result = warroom("drill", "--headless", "--state-dir", str(state))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    rows = gate_rows(result.stdout)
    assert rows[("app1", SSH_CHECK)].startswith("ok: ")
    assert rows[("app1", "docker engine unix:///var/run/docker.sock (over SSH)")] == "ok: answers"
    assert any(check.startswith("http target 127.0.0.1:") and r.startswith("ok") for (_, check), r in rows.items())
    [directory] = sorted((state / "incidents").iterdir())
    assert journal(directory)[1]["type"] == "preflight.passed"
