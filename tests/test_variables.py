"""Runbook-declared variables: declarations, the config's three levels, per-host plans, and the
one-line errors (file, line, key) for unknown, missing and ill-typed values. No host is contacted."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import declare, ssh_step, write_runbook

from actions.registry import KINDS
from console.model.config import load_config
from console.model.errors import ConfigError, RunbookError
from console.model.plan import Plan, PlannedStep, build_plan, needed_secrets
from console.model.plan_text import planned_commands, render_plan
from console.model.runbook import load_runbook

VARIABLES = declare(
    app__root="path",
    app__port=("integer", 8000),
    app__units=("list", ["web", "worker"]),
    app__url=("url", "http://localhost:8000/health"),
    db__password="secret",
)


def config(tmp_path: Path, body: str) -> Path:
    """Three hosts that are never contacted, groups web (a1, a2) and ops (a2, a3), and ``body``."""
    known = tmp_path / "known_hosts"
    known.write_text("")
    hosts = "".join(
        f'[hosts.{h}]\naddress = "10.0.0.{i}"\nuser = "u{i}"\nknown_hosts = "{known}"\n\n'
        for i, h in enumerate(("a1", "a2", "a3"), start=1)
    )
    path = tmp_path / "config.toml"
    groups = '[groups]\nweb = ["a1", "a2"]\nops = ["a2", "a3"]\nall = ["a1", "a2", "a3"]\n\n'
    path.write_text(f'[environment]\nname = "t"\n\n{hosts}{groups}' + textwrap.dedent(body))
    return path


def plan_for(tmp_path: Path, steps: str, body: str, variables: str = VARIABLES) -> Plan:
    runbook = load_runbook(write_runbook(tmp_path / "runbook.toml", steps, variables=variables), KINDS)
    return build_plan(runbook, load_config(config(tmp_path, body)))


def error_of(tmp_path: Path, steps: str, body: str, variables: str = VARIABLES) -> str:
    with pytest.raises(ConfigError) as caught:
        plan_for(tmp_path, steps, body, variables)
    message = str(caught.value)
    assert "\n" not in message
    return message


ROOT_STEP = ssh_step(
    "where", "echo {{ app.root }} {{ host.name }}@{{ host.address }} as {{ host.user }}", targets="all"
)


# ----- three levels, most specific wins ---------------------------------------------------------


def test_three_levels_most_specific_wins_and_only_differing_hosts_are_per_host(tmp_path):
    plan = plan_for(
        tmp_path,
        ROOT_STEP,
        """
        [vars.app]
        root = "/srv/common"
        [group_vars.ops.app]
        root = "/srv/ops"
        [hosts.a3.vars]
        app.root = "/srv/a3"
        """,
    )
    step = plan.steps["where"]
    assert step.commands == ("echo /srv/common a1@10.0.0.1 as u1",)
    assert set(step.per_host) == {"a2", "a3"}  # host.* differ anyway; a1's rendering is the step's own
    assert step.for_host("a1").commands == ("echo /srv/common a1@10.0.0.1 as u1",)
    assert step.for_host("a2").commands == ("echo /srv/ops a2@10.0.0.2 as u2",)
    assert step.for_host("a3").commands == ("echo /srv/a3 a3@10.0.0.3 as u3",)
    assert [g.hosts for g in step.renderings()] == [("a1",), ("a2",), ("a3",)]
    shown = [f"{c.host}$ {c.text}" for c in planned_commands(step, KINDS)]
    assert shown == [
        "a1$ echo /srv/common a1@10.0.0.1 as u1",
        "a2$ echo /srv/ops a2@10.0.0.2 as u2",
        "a3$ echo /srv/a3 a3@10.0.0.3 as u3",
    ]
    assert "a3$ echo /srv/a3 a3@10.0.0.3 as u3" in render_plan(plan, KINDS)


def test_hosts_that_render_alike_share_one_group_and_the_plan_survives_the_journal(tmp_path):
    steps = ssh_step("go", "systemctl restart {{ app.units }}", targets="all", extra='cwd = "{{ app.root }}"\n')
    plan = plan_for(tmp_path, steps, '[vars]\napp.root = "/a"\n[hosts.a2.vars]\napp.root = "/b"\n')
    step = plan.steps["go"]
    assert step.commands == ("systemctl restart web worker",) and step.cwd == "/a"
    assert set(step.per_host) == {"a2"} and step.per_host["a2"]["cwd"] == "/b"
    assert [g.hosts for g in step.renderings()] == [("a1", "a3"), ("a2",)]
    again = Plan.from_dict(plan.to_dict())
    assert again.steps["go"].for_host("a2").cwd == "/b"
    assert [g.hosts for g in again.steps["go"].renderings()] == [("a1", "a3"), ("a2",)]


def test_an_old_journal_step_without_the_new_fields_still_loads():
    old = {"id": "s", "title": "S", "kind": "ssh", "phase": "p", "automated": True, "hosts": ["h1"], "commands": ["x"]}
    step = PlannedStep.from_dict(old)
    assert step.per_host == {} and step.secrets == {} and step.for_host("h1") is step
    assert step.renderings() == [step]


def test_params_get_raw_typed_values_and_secrets_only_references(tmp_path):
    steps = textwrap.dedent(
        """
        [[phases.steps]]
        id = "probe"
        title = "Probe"
        kind = "http"
        targets = "web"
        params = { url = "{{ app.url }}", expect_status = "{{ app.port }}" }

        [[phases.steps]]
        id = "db"
        title = "DB"
        kind = "mysql"
        targets = "web"
        params = { operation = "preflight", database = "u@127.0.0.1:{{ app.port }}/shop", password = "db.password" }
        """
    )
    body = '[vars]\napp.root = "/r"\napp.port = 204\ndb.password = "env:DB_A"\n'
    body += '[hosts.a2.vars]\ndb.password = "file:/run/pw"\n'
    plan = plan_for(tmp_path, steps, body)
    assert plan.steps["probe"].params == {"url": "http://localhost:8000/health", "expect_status": 204}
    db = plan.steps["db"]
    assert db.params["database"] == "u@127.0.0.1:204/shop"
    assert db.secrets == {"db.password": "env:DB_A"} and db.for_host("a2").secrets == {"db.password": "file:/run/pw"}
    assert needed_secrets(plan) == [("db", "db.password", "env:DB_A"), ("db", "db.password", "file:/run/pw")]
    assert "u@127.0.0.1:204/shop" in planned_commands(db, KINDS)[0].text


# ----- one-line errors naming file, line and key -------------------------------------------------


def test_a_value_for_an_undeclared_variable_names_file_line_key_and_a_suggestion(tmp_path):
    message = error_of(tmp_path, ROOT_STEP, '[vars.app]\nroot = "/r"\nrot = "/x"\n')
    path = tmp_path / "config.toml"
    line = path.read_text().splitlines().index('rot = "/x"') + 1
    assert message.startswith(f"{path}:{line}: vars.app.rot: runbook declares no variable 'app.rot'; ")
    assert "did you mean 'app.root'?" in message and "declared: app.port, app.root" in message


def test_an_ill_typed_value_names_the_expected_type(tmp_path):
    message = error_of(tmp_path, ROOT_STEP, '[vars.app]\nroot = "/r"\n\n[group_vars.web]\napp.port = "80"\n')
    assert ": group_vars.web.app.port: expected an integer, got '80' (app.port is of type integer)" in message
    message = error_of(tmp_path, ROOT_STEP, '[vars.app]\nroot = "/r"\nurl = "ftp://x/"\n')
    assert "vars.app.url: expected an http:// or https:// URL" in message
    message = error_of(tmp_path, ROOT_STEP, '[vars]\napp.root = "/r"\ndb.password = "hunter2"\n')
    assert "vars.db.password: expected a secret reference" in message and "hunter2" not in message


def test_a_missing_value_names_variable_host_step_and_where_it_would_go(tmp_path):
    message = error_of(tmp_path, ROOT_STEP, '[hosts.a1.vars]\napp.root = "/r"\n')
    assert message.startswith(f"{tmp_path / 'config.toml'}: vars.app.root: missing: runbook 'testbook' step 'where'")
    assert "needs app.root on host 'a2' and it has no default" in message
    assert (
        "[group_vars.web] (group_vars.web.app.root)" in message
        and "[hosts.a2.vars] (hosts.a2.vars.app.root)" in message
    )


def test_two_groups_disagreeing_on_a_host_is_an_error_unless_the_host_decides(tmp_path):
    body = '[group_vars.web]\napp.root = "/w"\n[group_vars.ops]\napp.root = "/o"\n'
    message = error_of(tmp_path, ROOT_STEP, body)
    assert "hosts.a2: host 'a2' is in groups 'web' and 'ops', which set app.root differently" in message
    plan = plan_for(tmp_path, ROOT_STEP, body + '[hosts.a2.vars]\napp.root = "/own"\n')
    assert plan.steps["where"].for_host("a2").commands[0].startswith("echo /own ")


def test_group_vars_for_an_unknown_group_and_old_sections_are_refused(tmp_path):
    assert "group_vars.db: 'db' is not a group in [groups]" in error_of(tmp_path, ROOT_STEP, "[group_vars.db]\nx = 1\n")
    message = error_of(tmp_path, ROOT_STEP, '[database]\nname = "x"\n')
    path = tmp_path / "config.toml"
    line = path.read_text().splitlines().index("[database]") + 1
    assert message == (
        f"{path}:{line}: database: [database] is now [vars.database] "
        "(values the runbook declares; see warroom init --runbook NAME)"
    )


@pytest.mark.parametrize(
    ("variables", "steps", "problem"),
    [
        (declare(app__root="path"), ssh_step("s", "echo {{ app.rot }}"), "{{ app.rot }} is not a declared variable"),
        (declare(db__pw="secret"), ssh_step("s", "mysql -p{{ db.pw }}"), "db.pw is a secret"),
        (declare(xs="list"), ssh_step("s", 'echo "{{ xs }}"'), "xs is a list: write it outside quotes"),
        (declare(host__x="string"), ssh_step("s", "true"), "'host' is reserved"),
        (
            "",
            '\n[[phases.steps]]\nid = "s"\ntitle = "S"\nkind = "http"\n'
            'params = { url = "http://{{ host.address }}/" }\n',
            "host.address needs targets (no host runs it)",
        ),
        ('\n[vars.app.port]\ntype = "number"\n', ssh_step("s", "true"), "unknown type 'number'"),
        ('\n[vars.app.port]\ntype = "integer"\ndefault = "80"\n', ssh_step("s", "true"), "expected an integer"),
        ('\n[vars.db.pw]\ntype = "secret"\ndefault = "x"\n', ssh_step("s", "true"), "a secret has no literal default"),
        ('\n[vars.a]\ntype = "string"\nhelp = ""\n', ssh_step("s", "true"), "unknown key; a declaration has"),
        (
            declare(app__root="path"),
            ssh_step("s", "true", extra='secret_env = { X = "app.root" }\n'),
            "app.root is of type path, not secret",
        ),
    ],
)
def test_bad_declarations_and_uses_are_runbook_errors_at_load(tmp_path, variables, steps, problem):
    path = write_runbook(tmp_path / "runbook.toml", steps, variables=variables)
    with pytest.raises(RunbookError) as caught:
        load_runbook(path, KINDS)
    message = str(caught.value)
    assert message.startswith(f"{path}:") and problem in message and "\n" not in message
