"""Malformed configs and runbooks, each through the real CLI: one titled line on stderr, exit 2.

Every case writes a config and a runbook by hand, breaks one thing, runs
``python -m console.cli plan -c CONFIG --runbook RUNBOOK`` as a subprocess and checks the whole
head of the message: ``warroom: <Title>: <file>:<line>: <key.path>: `` then a phrase naming the
problem. The expected line is the one marked ``# <-- here`` in the file that was written, so the
line numbers stay exact when the base documents change.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bad_input_support import (
    COMM,
    CONFIG,
    DATABASE,
    MARK,
    MISSING,
    RUNBOOK,
    VARIANTS,
    Case,
    _prepare,
    _write,
    add,
    assert_one_line_error,
    chain,
    mark,
    run_cli,
    sub,
)

CASES = [
    # --- config ---------------------------------------------------------------------------
    Case("toml-syntax", "config", "", "not valid TOML", config=mark('user = "deploy"', 'user = "deploy')),
    Case(
        "unknown-top-level-key",
        "config",
        "colour",
        "unknown key; allowed: contacts, environment, group_vars",
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
        "vars.database.password",
        "expected a secret reference (env:NAME or file:PATH); inline secrets are not allowed",
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
        "placeholder-value-missing",
        "config",
        "vars.database.name",
        "missing: runbook 'testbook' step 'hello' needs database.name on host 'app1' and it has no default; "
        "set it under [vars] (vars.database.name) or [group_vars.app] (group_vars.app.database.name) or "
        "[hosts.app1.vars] (hosts.app1.vars.database.name)",
        runbook=sub("echo hi", "echo {{ database.name }}"),
    ),
    Case(
        "placeholder-undeclared",
        "runbook",
        "phases[0].steps[0].commands[0]",
        "step 'hello': {{ app.nope }} is not a declared variable (declare it under [vars]; "
        "declared: database.name, database.password, database.user)",
        runbook=mark('commands = ["echo hi"]', 'commands = ["echo {{ app.nope }}"]'),
    ),
    Case(
        "placeholder-names-a-namespace",
        "runbook",
        "phases[0].steps[0].commands[0]",
        "step 'hello': {{ database }} is not a declared variable",
        runbook=mark('commands = ["echo hi"]', 'commands = ["echo {{ database }}"]'),
    ),
    Case(
        "secret-placeholder-in-command",
        "runbook",
        "phases[0].steps[0].commands[0]",
        "step 'hello': database.password is a secret and would be shown and journaled here; use secret_env",
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
