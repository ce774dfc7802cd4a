"""An ansible step's params checked at load in one line naming the key, its secret extra vars
naming declared secret variables, and the event fold that never trusts what the runner sends."""

from __future__ import annotations

import pytest
from ansible_support import ansible_step
from conftest import declare, write_runbook
from hypothesis import given, settings
from hypothesis import strategies as st

from actions.ansible.tally import Tally
from actions.registry import KINDS
from console.model.errors import RunbookError
from console.model.runbook import load_runbook

ONE_THING = "an ansible step runs params.playbook or params.module (exactly one)"


def load(tmp_path, steps: str, variables: str = ""):
    return load_runbook(write_runbook(tmp_path / "runbook.toml", steps, variables=variables), KINDS)


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({}, ONE_THING),
        ({"playbook": "a.yml", "module": "ping"}, ONE_THING),
        ({"playbook": "a.yml", "args": "x"}, "params.args: params.args are the arguments of params.module"),
        ({"playbook": "a.yml", "forks": 0}, "params.forks: input should be greater than or equal to 1, got 0"),
        ({"playbook": "a.yml", "serial": "many"}, "params.serial: hosts per batch: a number >= 1 or a percentage"),
        ({"playbook": "a.yml", "max_fail_percentage": 101}, "params.max_fail_percentage: input should be less"),
        ({"playbook": "a.yml", "vars": {"bad-name": 1}}, "params.vars: 'bad-name' is not a valid Ansible variable"),
        ({"playbook": "a.yml", "hosts": "x"}, "unknown ansible parameter(s) hosts; known: playbook, module"),
    ],
)
def test_bad_params_are_one_line_at_load(tmp_path, params, problem):
    with pytest.raises(RunbookError) as err:
        load(tmp_path, ansible_step("roll", **params))
    text = str(err.value)
    assert problem in text, text
    assert "\n" not in text


def test_a_secret_extra_var_must_name_a_declared_secret_variable(tmp_path):
    steps = ansible_step("roll", playbook="a.yml", secret_vars={"db_password": "db.password"})
    with pytest.raises(RunbookError) as err:
        load(tmp_path, steps, declare(db__password="string"))
    assert "params.secret_vars.db_password = 'db.password' is of type string, not secret" in str(err.value)
    assert load(tmp_path, steps, declare(db__password="secret")).id == "testbook"


def test_commands_are_refused_on_an_ansible_step(tmp_path):
    steps = ansible_step("roll", playbook="a.yml").replace('kind = "ansible"', 'kind = "ansible"\ncommands = ["x"]')
    with pytest.raises(RunbookError) as err:
        load(tmp_path, steps)
    assert "an ansible step runs params.playbook or params.module; give params (" in str(err.value)


EVENT_NAMES = st.sampled_from(
    [
        "runner_on_start",
        "runner_on_ok",
        "runner_on_failed",
        "runner_on_unreachable",
        "runner_on_skipped",
        "runner_item_on_ok",
        "playbook_on_play_start",
        "playbook_on_stats",
        "verbose",
        "warning",
        "error",
        "anything",
    ]
)
JUNK = st.one_of(st.none(), st.integers(), st.text(max_size=20), st.lists(st.integers(), max_size=2))
EVENTS = st.fixed_dictionaries(
    {
        "event": EVENT_NAMES,
        "stdout": st.one_of(st.text(max_size=40), JUNK),
        "event_data": st.one_of(
            JUNK,
            st.fixed_dictionaries(
                {},
                optional={
                    "host": st.one_of(st.sampled_from(["h1", "h2", "stranger"]), JUNK),
                    "task": st.one_of(st.text(max_size=10), JUNK),
                    "res": st.one_of(JUNK, st.dictionaries(st.sampled_from(["msg", "rc", "stderr", "changed"]), JUNK)),
                    "ignore_errors": st.booleans(),
                },
            ),
        ),
    }
)


@settings(max_examples=300, deadline=None)
@given(st.lists(EVENTS, max_size=30))
def test_any_event_stream_folds_without_error_into_a_known_outcome_per_host(events):
    tally = Tally(["h1", "h2"])
    for event in events:
        for host, text in tally.fold(event):
            assert host in ("", "h1", "h2")
            assert "\x1b" not in text and "\r" not in text
    tally.settle()
    for host in tally.hosts.values():
        assert host.outcome in ("ok", "changed", "failed", "unreachable", "not attempted")
        assert "\n" not in host.failure
