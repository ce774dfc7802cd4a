"""Bad input holding a secret: the one-line error names the key, never the value.

Also: ``warroom check`` reports a bad config like ``plan`` does, and a runbook command with
credentials in a URL is refused.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from bad_input_support import CONFIG, DATABASE, RUNBOOK, _prepare, _write, assert_one_line_error, mark, run_cli

# --- secrets never come back in a message ---------------------------------------------------

SECRET = "S3cr3t-value-7f2a9c"
EMAIL = '\n[notify.email]\nsmtp_host = "smtp.example.com"\nsender = "a@example.com"\nrecipients = ["b@example.com"]\n'

SECRET_CASES = {
    "database-password-inline": (DATABASE + f'password = "{SECRET}"\n', "vars.database.password"),
    "database-password-integer": (DATABASE + "password = 736151029\n", "vars.database.password"),
    "database-password-array": (DATABASE + f'password = ["{SECRET}"]\n', "vars.database.password"),
    "database-password-table": (DATABASE + f'password = {{ value = "{SECRET}" }}\n', "vars.database.password.value"),
    "email-password-inline": (EMAIL + f'password = "{SECRET}"\n', "notify.email.password"),
    "email-password-integer": (EMAIL + "password = 736151029\n", "notify.email.password"),
    "slack-webhook-inline": (
        f'\n[notify.slack]\nwebhook_url = "https://hooks.slack.com/services/{SECRET}"\n',
        "notify.slack.webhook_url",
    ),
    "statuspage-url-with-userinfo": (
        f'\n[notify.statuspage]\nurl = "https://ops:{SECRET}@status.example.com"\n',
        "notify.statuspage.url",
    ),
    "secret-under-unknown-key": (f'\n[vault]\ntoken = "{SECRET}"\n', "vault"),
}


@pytest.mark.parametrize("extra,key", SECRET_CASES.values(), ids=list(SECRET_CASES))
def test_config_error_never_echoes_a_secret(extra: str, key: str, tmp_path: Path) -> None:
    _prepare(tmp_path)
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.replace("@TMP@", str(tmp_path)) + extra)
    (tmp_path / "runbook.toml").write_text(RUNBOOK)
    result = run_cli("plan", "-c", str(config), "--runbook", str(tmp_path / "runbook.toml"), cwd=tmp_path)
    err = assert_one_line_error(result, f"warroom: Invalid config: {config}:", f": {key}: ")
    for leaked in (SECRET, "736151029"):
        assert leaked not in err + result.stdout, err


def test_check_reports_config_errors_like_plan(tmp_path: Path) -> None:
    """``warroom check`` loads the same way: same line, and no host is contacted first."""
    _prepare(tmp_path)
    config, runbook = tmp_path / "config.toml", tmp_path / "runbook.toml"
    line = _write(config, CONFIG, mark("port = 22", "port = 0"), tmp_path)
    _write(runbook, RUNBOOK, None, tmp_path)
    for command in ("check", "plan"):
        result = run_cli(command, "-c", str(config), "--runbook", str(runbook), cwd=tmp_path)
        assert_one_line_error(
            result, f"warroom: Invalid config: {config}:{line}: hosts.app1.port: ", "must be at least 1"
        )


def test_credentials_written_in_a_runbook_command_are_refused(tmp_path):
    """A plan is journaled and shown verbatim, so it must never hold a password."""
    known = tmp_path / "known_hosts"
    known.write_text("")
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[environment]\nname = "t"\n\n[hosts.h1]\naddress = "127.0.0.1"\nuser = "root"\nknown_hosts = "{known}"\n'
        '\n[groups]\napp = ["h1"]\n'
    )
    rb = tmp_path / "rb.toml"
    rb.write_text(
        'triggers = ["t"]\n[runbook]\nid = "x"\ntitle = "x"\nversion = "1"\n[severity.P0]\nlabel = "C"\n'
        'response_minutes = 5\nrollback = "yes"\nrto_minutes = 15\n[[phases]]\nid = "p"\ntitle = "p"\n'
        'start_minute = 0\nend_minute = 5\n[[phases.steps]]\nid = "pull"\ntitle = "pull"\nkind = "ssh"\n'
        'targets = "app"\ncommands = ["git pull https://deploy:hunter2@git.example.com/app.git"]\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "console.cli", "plan", "-c", str(cfg), "--runbook", str(rb)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "step 'pull' has credentials written in a URL" in result.stderr
    assert "hunter2" not in result.stderr and "Traceback" not in result.stderr
