"""Malformed configs and runbooks, each through the real CLI: one titled line on stderr, exit 2.

Every case writes a config and a runbook by hand, breaks one thing, runs
``python -m console.cli plan -c CONFIG --runbook RUNBOOK`` as a subprocess and checks the whole
head of the message: ``warroom: <Title>: <file>:<line>: <key.path>: `` then a phrase naming the
problem. The expected line is the one marked ``# <-- here`` in the file that was written, so the
line numbers stay exact when the base documents change.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MARK = "  # <-- here"

CONFIG = """\
[environment]
name = "test"
state_dir = "@TMP@/state"

[hosts.app1]
address = "127.0.0.1"
port = 22
user = "deploy"
identity_file = "@TMP@/id_ed25519"
known_hosts = "@TMP@/known_hosts"

[groups]
app = ["app1"]
"""

RUNBOOK = """\
triggers = ["Something broke"]

[runbook]
id = "testbook"
title = "Test rollback"
version = "2.0.0"

[severity.P0]
label = "Critical"
response_minutes = 5
rollback = "yes"
rto_minutes = 15

[[phases]]
id = "main"
title = "Main"
start_minute = 0
end_minute = 10

[[phases.steps]]
id = "hello"
title = "Hello"
kind = "ssh"
targets = "app"
commands = ["echo hi"]
"""

VARIANTS = """
[variants.deploy_mode]
options = ["docker", "systemd"]
default = "docker"
"""

COMM = """
[[comms]]
id = "status"
audience = "internal"
channel = "slack"
to = "ops"
summary = "Rollback started"
"""

DATABASE = """
[database]
name = "salon"
user = "salon"
"""

Edit = Callable[[str], "str | bytes | None"]


def MISSING(text: str) -> None:
    """The file is not written at all."""


def sub(old: str, new: str) -> Edit:
    """Replace the one occurrence of ``old``."""

    def edit(text: str) -> str:
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
        return text.replace(old, new)

    return edit


def mark(old: str, new: str | None = None) -> Edit:
    """Replace ``old`` (by itself, or by ``new``) and mark that line as the one to be reported."""
    return sub(old, (old if new is None else new) + MARK)


def add(extra: str) -> Edit:
    return lambda text: text + extra


def chain(*edits: Edit) -> Edit:
    def edit(text: str) -> str:
        for e in edits:
            text = e(text)
        return text

    return edit


@dataclass(frozen=True)
class Case:
    id: str
    blame: str  # "config" or "runbook": the file named in the message
    key: str  # the exact key path ("" when the file as a whole is the problem)
    phrase: str
    config: Edit | None = None
    runbook: Edit | None = None
    runbook_arg: str | None = None  # --runbook as given, when not the written file
    absent: str | None = None  # must not appear anywhere in the output (a secret)


CASES = [
    # --- config ---------------------------------------------------------------------------
    Case("toml-syntax", "config", "", "not valid TOML", config=mark('user = "deploy"', 'user = "deploy')),
    Case(
        "unknown-top-level-key",
        "config",
        "colour",
        "unknown key; allowed: app, contacts, database",
        config=add("\n[colour]" + MARK + '\nvalue = "red"\n'),
    ),
    Case(
        "unknown-host-key-did-you-mean",
        "config",
        "hosts.app1.adress",
        "unknown key; did you mean 'address'?",
        config=mark('address = "127.0.0.1"', 'adress = "127.0.0.1"'),
    ),
    Case(
        "port-wrong-type",
        "config",
        "hosts.app1.port",
        "expected an integer, got '22'",
        config=mark("port = 22", 'port = "22"'),
    ),
    Case(
        "port-bool",
        "config",
        "hosts.app1.port",
        "expected an integer, got true",
        config=mark("port = 22", "port = true"),
    ),
    Case(
        "port-out-of-range",
        "config",
        "hosts.app1.port",
        "must be at most 65535, got 70000",
        config=mark("port = 22", "port = 70000"),
    ),
    Case(
        "missing-required-user",
        "config",
        "hosts.app1.user",
        "missing required key",
        config=chain(mark("[hosts.app1]"), sub('user = "deploy"\n', "")),
    ),
    Case(
        "inline-secret",
        "config",
        "database.password",
        "inline secrets are not allowed: write env:NAME or file:PATH",
        config=add(DATABASE + 'password = "hunter2"' + MARK + "\n"),
        absent="hunter2",
    ),
    Case(
        "group-undefined-host",
        "config",
        "groups.app",
        "host 'app9' is not defined in [hosts] (defined: app1)",
        config=mark('app = ["app1"]', 'app = ["app1", "app9"]'),
    ),
    Case(
        "group-empty",
        "config",
        "groups.app",
        "a group needs at least one host",
        config=mark('app = ["app1"]', "app = []"),
    ),
    Case(
        "group-named-like-host",
        "config",
        "groups.app1",
        "group 'app1' has the same name as a host",
        config=add('app1 = ["app1"]' + MARK + "\n"),
    ),
    Case(
        "identity-file-missing",
        "config",
        "hosts.app1.identity_file",
        "@TMP@/no_such_key does not exist",
        config=mark('identity_file = "@TMP@/id_ed25519"', 'identity_file = "@TMP@/no_such_key"'),
    ),
    Case(
        "known-hosts-is-directory",
        "config",
        "hosts.app1.known_hosts",
        "is a directory, not a file",
        config=mark('known_hosts = "@TMP@/known_hosts"', 'known_hosts = "@TMP@/a_directory"'),
    ),
    Case(
        "known-hosts-dangling-symlink",
        "config",
        "hosts.app1.known_hosts",
        "is a dangling symlink",
        config=mark('known_hosts = "@TMP@/known_hosts"', 'known_hosts = "@TMP@/dangling"'),
    ),
    Case(
        "host-name-not-an-ident",
        "config",
        'hosts."app 1"',
        "invalid name 'app 1': use letters, digits",
        config=mark("[hosts.app1]", '[hosts."app 1"]'),
    ),
    Case(
        "key-with-newline-stays-one-line",
        "config",
        'hosts.app1."ad\\nress"',
        "unknown key",
        config=sub("[hosts.app1]", '[hosts.app1]\n"ad\\nress" = "x"' + MARK),
    ),
    Case(
        "no-hosts",
        "config",
        "hosts",
        "needs at least 1 entry, got 0",
        config=chain(
            mark("[hosts.app1]", "[hosts]"),
            sub('address = "127.0.0.1"\nport = 22\nuser = "deploy"\n', ""),
            sub('identity_file = "@TMP@/id_ed25519"\nknown_hosts = "@TMP@/known_hosts"\n', ""),
            sub('[groups]\napp = ["app1"]\n', ""),
        ),
    ),
    Case(
        "server-user-bad-role",
        "config",
        "server.users[0].role",
        "must be one of 'driver' or 'observer', got 'admin'",
        config=add(
            '\n[[server.users]]\nname = "alice"\nrole = "admin"' + MARK + '\npublic_keys = ["ssh-ed25519 AAAA a"]\n'
        ),
    ),
    Case(
        "server-user-without-keys",
        "config",
        "server.users[0]",
        "give public_keys or authorized_keys",
        config=add("\n[[server.users]]" + MARK + '\nname = "alice"\nrole = "driver"\n'),
    ),
    Case("config-not-utf8", "config", "", "not UTF-8 text", config=lambda text: text.encode() + b"\n# caf\xe9\n"),
    Case("config-missing", "config", "", "file not found", config=MISSING),
    # --- config x runbook: dangling references caught by build_plan -------------------------
    Case(
        "target-group-undefined",
        "config",
        "groups.web",
        "step 'hello' targets 'web', which is neither a group nor a host here (defined: app, app1)",
        config=mark("[groups]"),
        runbook=sub('targets = "app"', 'targets = "web"'),
    ),
    Case(
        "config-variant-undeclared",
        "config",
        "variants.deploy_mode",
        "runbook 'testbook' has no variant 'deploy_mode' (it declares: none)",
        config=add('\n[variants]\ndeploy_mode = "docker"' + MARK + "\n"),
    ),
    Case(
        "config-variant-value-not-an-option",
        "config",
        "variants.deploy_mode",
        "'k8s' is not an option of 'deploy_mode' (docker, systemd)",
        config=add('\n[variants]\ndeploy_mode = "k8s"' + MARK + "\n"),
        runbook=add(VARIANTS),
    ),
    Case(
        "placeholder-missing-section",
        "config",
        "database.name",
        "missing: needed by runbook 'testbook' step 'hello' ({{ database.name }})",
        runbook=sub("echo hi", "echo {{ database.name }}"),
    ),
    Case(
        "placeholder-missing-key",
        "config",
        "app.nope",
        "missing: needed by runbook 'testbook' step 'hello'",
        config=add("\n[app]" + MARK + '\nroot = "/srv/app"\n'),
        runbook=sub("echo hi", "echo {{ app.nope }}"),
    ),
    Case(
        "placeholder-names-a-table",
        "runbook",
        "phases[0].steps[0].commands[0]",
        "placeholder 'groups' names a table, not a value",
        runbook=mark('commands = ["echo hi"]', 'commands = ["echo {{ groups }}"]'),
    ),
    Case(
        "secret-placeholder-in-command",
        "runbook",
        "phases[0].steps[0].commands[0]",
        "reads secret 'database.password' in a command; use secret_env",
        config=add(DATABASE + 'password = "env:DB_PASSWORD"\n'),
        runbook=mark('commands = ["echo hi"]', 'commands = ["mysql -p{{ database.password }}"]'),
    ),
    # --- runbook --------------------------------------------------------------------------
    Case(
        "unknown-step-kind",
        "runbook",
        "phases[0].steps[0].kind",
        "unknown step kind 'telnet'; known kinds: ",
        runbook=mark('kind = "ssh"', 'kind = "telnet"'),
    ),
    Case(
        "step-key-did-you-mean",
        "runbook",
        "phases[0].steps[0].comands",
        "unknown key; did you mean 'commands'?",
        runbook=mark('commands = ["echo hi"]', 'comands = ["echo hi"]'),
    ),
    Case(
        "duplicate-step-id",
        "runbook",
        "phases[0].steps[1].id",
        "duplicate step id 'hello'",
        runbook=add(
            '\n[[phases.steps]]\nid = "hello"' + MARK + '\ntitle = "Again"\nkind = "ssh"\ntargets = "app"\n'
            'commands = ["echo again"]\n'
        ),
    ),
    Case(
        "destructive-without-confirm",
        "runbook",
        "phases[0].steps[0].confirm",
        "a destructive step needs a confirmation word",
        runbook=chain(mark("[[phases.steps]]"), add("destructive = true\n")),
    ),
    Case(
        "manual-step-without-checks",
        "runbook",
        "phases[0].steps[0].checks",
        "a manual step needs at least one check",
        runbook=chain(
            mark("[[phases.steps]]"),
            sub('kind = "ssh"\ntargets = "app"\ncommands = ["echo hi"]\n', 'kind = "manual"\n'),
        ),
    ),
    Case(
        "ssh-step-without-commands",
        "runbook",
        "phases[0].steps[0].commands",
        "an ssh step needs at least one command",
        runbook=mark('commands = ["echo hi"]', "commands = []"),
    ),
    Case(
        "ssh-step-without-targets",
        "runbook",
        "phases[0].steps[0].targets",
        "a ssh step needs targets",
        runbook=chain(mark("[[phases.steps]]"), sub('targets = "app"\n', "")),
    ),
    Case(
        "phase-window-backwards",
        "runbook",
        "phases[0].end_minute",
        "must be after start_minute (20), got 10",
        runbook=chain(sub("start_minute = 0", "start_minute = 20"), mark("end_minute = 10")),
    ),
    Case(
        "severity-key-not-like-P0",
        "runbook",
        "severity.Critical",
        "invalid name 'Critical': a severity is named P0",
        runbook=mark("[severity.P0]", "[severity.Critical]"),
    ),
    Case(
        "rollback-not-yes-maybe-no",
        "runbook",
        "severity.P0.rollback",
        "must be one of 'yes', 'maybe' or 'no', got 'perhaps'",
        runbook=mark('rollback = "yes"', 'rollback = "perhaps"'),
    ),
    Case(
        "comms-timed-and-conditional",
        "runbook",
        "comms[0].condition",
        "give exactly one of at_minutes or condition, not both",
        runbook=add(COMM + 'at_minutes = 5\ncondition = "if the database restore fails"' + MARK + "\n"),
    ),
    Case(
        "comms-neither-timed-nor-conditional",
        "runbook",
        "comms[0]",
        "give exactly one of at_minutes",
        runbook=add(COMM.replace("[[comms]]", "[[comms]]" + MARK)),
    ),
    Case(
        "step-variant-undeclared",
        "runbook",
        "phases[0].steps[0].variant.deploy_mode",
        "variant 'deploy_mode' is not declared in [variants]",
        runbook=add('variant = { deploy_mode = "docker" }' + MARK + "\n"),
    ),
    Case(
        "variant-default-not-an-option",
        "runbook",
        "variants.deploy_mode.default",
        "'k8s' is not one of the options (docker, systemd)",
        runbook=add(VARIANTS.replace('default = "docker"', 'default = "k8s"' + MARK)),
    ),
    Case("runbook-missing", "runbook", "", "file not found", runbook=MISSING),
    Case("runbook-is-a-directory", "runbook", "", "is a directory, not a file", runbook_arg="@TMP@/a_directory"),
    Case(
        "runbook-name-typo",
        "runbook",
        "",
        "not a built-in runbook (built-in: salonmanager); did you mean",
        runbook_arg="salonmanagr",
    ),
]


def _prepare(tmp_path: Path) -> None:
    (tmp_path / "id_ed25519").write_text("not really a key\n")
    (tmp_path / "known_hosts").write_text("")
    (tmp_path / "a_directory").mkdir()
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")


def _write(path: Path, base: str, edit: Edit | None, tmp_path: Path) -> int | None:
    """Write ``base`` edited; return the number of the line marked to be reported, if any."""
    text = edit(base) if edit else base
    if text is None:
        return None
    if isinstance(text, bytes):
        path.write_bytes(text.replace(b"@TMP@", str(tmp_path).encode()))
        return None
    text = text.replace("@TMP@", str(tmp_path))
    path.write_text(text)
    marked = [n for n, line in enumerate(text.splitlines(), start=1) if line.endswith(MARK)]
    assert len(marked) <= 1, "mark one line only"
    return marked[0] if marked else None


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "console.cli", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=60
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], head: str, phrase: str) -> str:
    err = result.stderr
    assert "Traceback" not in err, err
    assert result.returncode == 2, (result.returncode, result.stdout, err)
    assert err.endswith("\n") and len(err.splitlines()) == 1, f"not one line: {err!r}"
    assert err.startswith(head), f"\nexpected head: {head}\ngot:           {err}"
    assert phrase in err[len(head) :], f"\nexpected phrase: {phrase}\ngot: {err}"
    assert result.stdout == ""
    return err


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_naming_file_line_and_key(case: Case, tmp_path: Path) -> None:
    _prepare(tmp_path)
    config, runbook = tmp_path / "config.toml", tmp_path / "runbook.toml"
    lines = {
        "config": _write(config, CONFIG, case.config, tmp_path),
        "runbook": _write(runbook, RUNBOOK, case.runbook, tmp_path),
    }
    rb_arg = (case.runbook_arg or str(runbook)).replace("@TMP@", str(tmp_path))
    result = run_cli("plan", "-c", str(config), "--runbook", rb_arg, cwd=tmp_path)

    title = {"config": "Invalid config", "runbook": "Invalid runbook"}[case.blame]
    file = str(config) if case.blame == "config" else rb_arg
    line = lines[case.blame]
    where = f"{file}:{line}" if line else file
    head = f"warroom: {title}: {where}: {case.key}: " if case.key else f"warroom: {title}: {where}: "
    err = assert_one_line_error(result, head, case.phrase.replace("@TMP@", str(tmp_path)))
    if case.absent:
        assert case.absent not in err + result.stdout


def test_cases_are_many_and_distinct() -> None:
    assert len(CASES) >= 22
    assert len({c.id for c in CASES}) == len(CASES)


# --- secrets never come back in a message ---------------------------------------------------

SECRET = "S3cr3t-value-7f2a9c"
EMAIL = '\n[notify.email]\nsmtp_host = "smtp.example.com"\nsender = "a@example.com"\nrecipients = ["b@example.com"]\n'

SECRET_CASES = {
    "database-password-inline": (DATABASE + f'password = "{SECRET}"\n', "database.password"),
    "database-password-integer": (DATABASE + "password = 736151029\n", "database.password"),
    "database-password-array": (DATABASE + f'password = ["{SECRET}"]\n', "database.password"),
    "database-password-table": (DATABASE + f'password = {{ value = "{SECRET}" }}\n', "database.password"),
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
