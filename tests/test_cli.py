"""The CLI commands that prepare a rollback: init, check (preflight) and plan."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import tomli_w
from conftest import ssh_step, write_config, write_runbook

from console.engine.preflight import SSH_CHECK

REPO = Path(__file__).resolve().parents[1]


def warroom(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "console.cli", *args], capture_output=True, text=True, timeout=60)


def gate_rows(stdout: str) -> dict[tuple[str, str], str]:
    """The preflight table as ``(host, check) -> result`` (columns are two or more spaces apart)."""
    rows = [re.split(r"\s{2,}", line, maxsplit=2) for line in stdout.splitlines()]
    return {(r[0], r[1]): r[2] for r in rows if len(r) == 3 and r[0] != "HOST"}


@pytest.mark.sshd
def test_check_preflights_every_host_and_names_the_failure(tmp_path, lab):
    lab.start("good1")
    lab.start("good2")
    lab.start("stranger", known=False)
    gone = lab.start("gone")
    gone.stop()
    cfg = write_config(tmp_path / "config.toml", lab, ["good1", "good2", "stranger", "gone"])
    rb = write_runbook(tmp_path / "rb.toml", ssh_step("s", "true"))
    result = warroom("check", "-c", str(cfg), "--runbook", str(rb))
    assert result.returncode == 1, result.stdout + result.stderr
    rows = gate_rows(result.stdout)
    assert rows[("good1", SSH_CHECK)].startswith("ok: SSH-2.0-OpenSSH")
    assert rows[("good2", SSH_CHECK)].startswith("ok: ")
    assert rows[("stranger", SSH_CHECK)].startswith("FAIL: ") and "host key unknown" in rows[("stranger", SSH_CHECK)]
    assert rows[("gone", SSH_CHECK)].startswith("FAIL: ") and "cannot connect" in rows[("gone", SSH_CHECK)]
    assert "preflight: 2 of 4 checks failed on 4 hosts" in result.stdout
    assert "a run would be refused" in result.stdout


@pytest.mark.sshd
def test_check_passes_when_every_host_is_ready(tmp_path, lab):
    cfg = write_config(tmp_path / "config.toml", lab, ["h1", "h2"])
    rb = write_runbook(tmp_path / "rb.toml", ssh_step("s", "true", extra='cwd = "/"\n'))
    result = warroom("check", "-c", str(cfg), "--runbook", str(rb))
    assert result.returncode == 0, result.stdout + result.stderr
    rows = gate_rows(result.stdout)
    assert rows[("h1", "cwd /")] == "ok: exists" and rows[("h2", "cwd /")] == "ok: exists"
    assert "preflight: all 4 checks passed on 2 hosts" in result.stdout


@pytest.mark.sshd
def test_check_reports_refused_authentication(tmp_path, lab):
    lab.start("h1")
    stranger_key = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger_key)], check=True)
    cfg = write_config(tmp_path / "config.toml", lab, ["h1"])
    cfg.write_text(cfg.read_text().replace(str(lab.client_key), str(stranger_key)))
    rb = write_runbook(tmp_path / "rb.toml", ssh_step("s", "true", extra='cwd = "/"\n'))
    result = warroom("check", "-c", str(cfg), "--runbook", str(rb))
    assert result.returncode == 1
    rows = gate_rows(result.stdout)
    assert rows[("h1", SSH_CHECK)].startswith("FAIL: ") and "authentication refused" in rows[("h1", SSH_CHECK)]
    assert rows[("h1", "cwd /")] == "skip: not tried: the host cannot be reached"


def test_init_writes_a_starter_config_and_refuses_to_overwrite(tmp_path):
    target = tmp_path / "config.toml"
    result = warroom("init", "-o", str(target))
    assert result.returncode == 0, result.stderr
    data = tomllib.loads(target.read_text())
    assert data["groups"]["app"] == ["app1"]
    assert "database" not in data and data["vars"] == {
        "app": {"root": "/CHANGE-ME"},
        "database": {"name": "CHANGE-ME", "user": "CHANGE-ME"},
    }
    assert '# database.password = "env:SALONMANAGER_DB_PASSWORD"' in target.read_text()  # defaults: commented out
    assert data["variants"] == {"deploy_mode": "docker", "db_restore": "artisan"}
    again = warroom("init", "-o", str(target))
    assert again.returncode == 2 and "already exists; use --force" in again.stderr
    # with a real known_hosts file, the starter config plans the built-in runbook
    known = tmp_path / "known_hosts"
    known.write_text("")
    data["hosts"]["app1"]["known_hosts"] = str(known)
    data["hosts"]["app1"].pop("identity_file", None)
    target.write_text(tomli_w.dumps(data))
    planned = warroom("plan", "-c", str(target))
    assert planned.returncode == 0, planned.stderr
    assert "app1$ cd /CHANGE-ME/salonmanager/backend && php artisan down" in planned.stdout


def test_plan_prints_the_whole_builtin_runbook(tmp_path):
    known = tmp_path / "known_hosts"
    known.write_text("")
    example = (REPO / "config.toml.example").read_text()
    config = tomllib.loads(example)
    for host in config["hosts"].values():
        host["known_hosts"] = str(known)
        host.pop("identity_file", None)
    cfg = tmp_path / "config.toml"
    cfg.write_text(tomli_w.dumps(config))
    result = warroom("plan", "-c", str(cfg), "--severity", "P0")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for phase in ("[T+0 – T+5 min]", "[T+5 – T+15 min]", "[T+15 – T+30 min]", "[T+30 – T+45 min]", "[T+45 – T+60 min]"):
        assert phase in out
    assert "▶ P0 Critical" in out and "RTO 15 min" in out
    assert "DESTRUCTIVE" in out
    assert "php artisan backup:restore --disk=local --backup=latest" in out
    assert "Not in this environment:" in out
    assert "[ ] User authentication works" in out
    assert "Communication plan:" in out and "#ops" in out
    assert "Root Cause Analysis" in out
    # typed step kinds keep the runbook's literal commands visible
    for line in (
        "runbook: tar -xzf storage/app/backups/storage_backup.tar.gz -C storage/app/",
        "runbook: git checkout v0.9.0",
        "runbook: curl -f http://localhost:8000/api/v1/health",
    ):
        assert line in out


def test_help_lists_the_commands_but_not_the_internal_attach():
    result = warroom("--help")
    assert result.returncode == 0
    assert "SUPPRESS" not in result.stdout
    assert "attach" not in result.stdout
    assert all(name in result.stdout for name in ("drill", "serve", "watch", "report"))
    assert "--socket" in warroom("attach", "--help").stdout  # hidden, not gone


def test_the_drill_environment_is_what_the_console_needs():
    from console.drill.run import DrillEnvironment
    from console.host.ready import ReadyEnvironment

    wanted = {name for name in vars(ReadyEnvironment) if not name.startswith("_")}
    have = set(DrillEnvironment.__dataclass_fields__) | set(vars(DrillEnvironment))
    assert wanted == {"plan", "config", "state_root", "close"} and wanted <= have


def test_plan_for_a_severity_the_runbook_does_not_define_is_one_line(tmp_path):
    """Found by the fuzzer (tests/reliability/test_fuzz_parsers.py): the projection read the RTO of
    ``--severity P1`` from a runbook without P1 and ended in a KeyError."""
    examples = REPO / "examples" / "orders-api"
    text = (examples / "runbook.toml").read_text()
    start = text.index("[severity.P1]")
    runbook = tmp_path / "runbook.toml"
    runbook.write_text(text[:start] + text[text.index("[", start + 1) :])
    result = warroom("plan", "-c", str(examples / "config.toml"), "--runbook", str(runbook), "--severity", "P1")
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("warroom: Invalid input: --severity P1: runbook orders-api defines P0") and "P1," not in line
