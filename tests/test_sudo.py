"""``sudo = true`` steps against a real sshd and a real sudo, as users the test creates (with a
sudoers drop-in, both removed afterwards): NOPASSWD runs as is; a password from a secret is fed on
stdin (never in ``ps``, the journal, the spool or the output); without one the preflight says so
in one line."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import declare, ssh_step, write_runbook
from sshd import SSHLab

pytestmark = pytest.mark.sshd
SUDO_CHECK = "sudo: commands may run as root"
PASSWORD = "s3cret-Sudo-pw-41"


@pytest.fixture
def lab():
    """sshd reads AuthorizedKeysFile as the user logging in: the test users must reach it, and
    pytest's own tmp directory is root's alone, so this lab lives in a directory they can traverse."""
    base = Path(tempfile.mkdtemp(prefix="warroom-sudo-"))
    base.chmod(0o755)
    try:
        with SSHLab(base / "lab") as lab:
            lab.authorized_keys.chmod(0o644)
            yield lab
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def sudo_users():
    if os.geteuid() != 0 or not shutil.which("sudo") or not shutil.which("useradd"):
        pytest.skip("needs root, sudo and useradd (scripts/setup-services installs sudo)")
    tag = f"{os.getpid() % 10000}{random.randrange(100):02d}"
    nopasswd, withpw = f"wrnp{tag}", f"wrpw{tag}"
    drop_in = Path(f"/etc/sudoers.d/warroom-test-{tag}")
    try:
        for user in (nopasswd, withpw):
            subprocess.run(["useradd", "-M", "-d", "/", "-s", "/bin/sh", user], check=True, capture_output=True)
        subprocess.run(["usermod", "-p", "*", nopasswd], check=True)  # not locked: sshd lets keys in
        subprocess.run(["chpasswd"], input=f"{withpw}:{PASSWORD}\n", text=True, check=True)
        # no cached credential: every sudo of the password user must be given the password
        drop_in.write_text(
            f"{nopasswd} ALL=(root) NOPASSWD: ALL\n{withpw} ALL=(root) ALL\nDefaults:{withpw} timestamp_timeout=0\n"
        )
        drop_in.chmod(0o440)
        subprocess.run(["visudo", "-cqf", str(drop_in)], check=True)
        yield nopasswd, withpw
    finally:
        drop_in.unlink(missing_ok=True)
        for user in (nopasswd, withpw):
            subprocess.run(["userdel", user], capture_output=True)


TOKEN = "tok-3141-secret"


def config_for(tmp_path: Path, lab, user: str, *, sudo_password: str = "") -> Path:
    """One sudo step; its secret_env still reaches the commands (after the password on stdin)."""
    host = lab.hosts.get("h1") or lab.start("h1")
    commands = ("echo by-$SUDO_USER", "sleep 3", f"test ${{#TOKEN}} -eq {len(TOKEN)} && echo ran-as-$(id -un)")
    extra = 'sudo = true\nsecret_env = { TOKEN = "token" }\n'
    write_runbook(tmp_path / "rb.toml", ssh_step("as-root", *commands, extra=extra), variables=declare(token="secret"))
    path = tmp_path / "config.toml"
    path.write_text(
        f'[environment]\nname = "t"\nstate_dir = "{tmp_path / "state"}"\nrunbook = "{tmp_path / "rb.toml"}"\n\n'
        f'[hosts.h1]\naddress = "127.0.0.1"\nport = {host.port}\nuser = "{user}"\n'
        f'identity_file = "{lab.client_key}"\nknown_hosts = "{lab.known_hosts}"\n'
        + (f'sudo_password = "{sudo_password}"\n' if sudo_password else "")
        + '\n[groups]\napp = ["h1"]\n\n[vars]\ntoken = "env:WR_TEST_TOKEN"\n'
    )
    return path


def warroom(*args: str, env: dict[str, str] | None = None):
    return subprocess.run(
        [sys.executable, "-m", "console.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "WR_TEST_TOKEN": TOKEN, **(env or {})},
    )


RUN = ("run", "--headless", "--severity", "P0", "--trigger", "Something broke")


def sudo_row(stdout: str) -> str:
    for line in stdout.splitlines():
        if SUDO_CHECK in line:
            return line.split(SUDO_CHECK, 1)[1].strip()
    raise AssertionError(stdout)


def output_of(tmp_path: Path) -> str:
    [incident] = (tmp_path / "state" / "incidents").iterdir()
    return (incident / "outputs" / "as-root" / "1" / "h1.log").read_text()


def test_nopasswd_sudo_runs_the_commands_as_root(tmp_path, lab, sudo_users):
    nopasswd, _ = sudo_users
    config = config_for(tmp_path, lab, nopasswd)
    plan = warroom("plan", "-c", str(config))
    assert "runs with sudo" in plan.stdout
    assert "TOKEN=<secret token> sudo sh -c 'echo by-$SUDO_USER && sleep 3" in plan.stdout
    check = warroom("check", "-c", str(config))
    assert check.returncode == 0, check.stdout + check.stderr
    assert sudo_row(check.stdout) == f"ok: user {nopasswd} needs no password"
    run = warroom(*RUN[:1], "-c", str(config), *RUN[1:])
    assert run.returncode == 0, run.stdout + run.stderr
    assert "ran-as-root" in output_of(tmp_path)


def test_sudo_wanting_a_password_without_one_is_a_clear_preflight_error(tmp_path, lab, sudo_users):
    _, withpw = sudo_users
    config = config_for(tmp_path, lab, withpw)
    check = warroom("check", "-c", str(config))
    assert check.returncode == 1
    assert sudo_row(check.stdout) == (
        f"FAIL: host h1: sudo wants a password for user {withpw}: allow the step's commands NOPASSWD in sudoers, "
        'or set hosts.h1.sudo_password = "env:NAME" (fed on stdin, never on a command line) (needed by step as-root)'
    )
    run = warroom(*RUN[:1], "-c", str(config), *RUN[1:])
    assert run.returncode == 1 and "nothing was opened" in run.stderr

    wrong = config_for(tmp_path, lab, withpw, sudo_password="env:WR_TEST_SUDO_PW")
    check = warroom("check", "-c", str(wrong), env={"WR_TEST_SUDO_PW": "not-the-password"})
    assert check.returncode == 1
    assert "sudo refused the password of hosts.h1.sudo_password (env:WR_TEST_SUDO_PW)" in sudo_row(check.stdout)


def test_a_sudo_password_from_a_secret_goes_on_stdin_only(tmp_path, lab, sudo_users):
    _, withpw = sudo_users
    config = config_for(tmp_path, lab, withpw, sudo_password="env:WR_TEST_SUDO_PW")
    env = {"WR_TEST_SUDO_PW": PASSWORD}
    check = warroom("check", "-c", str(config), env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "password from hosts.h1.sudo_password accepted" in sudo_row(check.stdout)

    run = subprocess.Popen(
        [sys.executable, "-m", "console.cli", "run", "-c", str(config), *RUN[1:]],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "WR_TEST_TOKEN": TOKEN, **env},
    )
    seen_running, deadline = False, time.monotonic() + 60
    while run.poll() is None:
        assert time.monotonic() < deadline, "the run did not end"
        table = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        assert PASSWORD not in table and TOKEN not in table, "a secret is visible in ps"
        seen_running |= "sleep 3" in table
        time.sleep(0.05)
    stdout, stderr = run.communicate()
    assert run.returncode == 0, stdout + stderr
    assert seen_running, "ps never caught the step's command running"
    assert f"by-{withpw}" in output_of(tmp_path) and "ran-as-root" in output_of(tmp_path)
    [incident] = (tmp_path / "state" / "incidents").iterdir()
    for path in incident.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert PASSWORD not in text and TOKEN not in text, f"a secret is in {path}"
    assert PASSWORD not in stdout + stderr + check.stdout


def test_sudo_on_a_kind_that_builds_its_own_commands_is_refused_at_load(tmp_path):
    from actions.registry import KINDS
    from console.model.errors import RunbookError
    from console.model.runbook import load_runbook

    step = (
        '\n[[phases.steps]]\nid = "look"\ntitle = "Look"\nkind = "manual"\nsudo = true\n'
        'checks = [{ id = "a", text = "A" }]\n'
    )
    with pytest.raises(RunbookError) as refused:
        load_runbook(write_runbook(tmp_path / "rb.toml", step), KINDS)
    assert "phases[0].steps[0].sudo: sudo applies to ssh steps' commands; a manual step builds its own" in str(
        refused.value
    )


@pytest.mark.parametrize("password", [False, True], ids=["nopasswd", "password"])
def test_a_sudo_step_that_times_out_has_its_root_command_stopped(tmp_path, lab, sudo_users, password):
    """The login user may not signal the root processes of a sudo step (and sudo relays a signal
    only to the shell it started), so the stop runs as root: nothing is left on the host."""
    nopasswd, withpw = sudo_users
    user = withpw if password else nopasswd
    config = config_for(tmp_path, lab, user, sudo_password="env:WR_TEST_SUDO_PW" if password else "")
    marker = f"sleep {1000 + random.randrange(1000)}"
    write_runbook(
        tmp_path / "rb.toml",
        ssh_step("stuck", marker, timeout=3, extra='sudo = true\nsecret_env = { TOKEN = "token" }\n'),
        variables=declare(token="secret"),
    )
    run = warroom(*RUN[:1], "-c", str(config), *RUN[1:], env={"WR_TEST_SUDO_PW": PASSWORD})
    assert run.returncode == 1, run.stdout + run.stderr
    assert "remote process group stopped" in run.stdout + run.stderr, run.stdout + run.stderr
    time.sleep(0.5)
    left = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout
    assert not left.strip(), f"still running as root: {left}"
