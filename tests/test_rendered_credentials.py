"""Credentials that only appear once a step is rendered (finding 6): a health URL with user-info
set in the config used to pass the plan's check (which read the runbook's template) and land in
clear in the journaled plan and every watcher's welcome. The rendered values are checked, host by
host, and the plan is refused with one line naming the config key that holds them."""

from __future__ import annotations

import textwrap

import pytest
from conftest import write_runbook
from test_variables import VARIABLES, config, plan_for

from actions.registry import KINDS
from console.model.config import load_config
from console.model.errors import ConfigError
from console.model.plan import build_plan
from console.model.runbook import load_runbook

PROBE = textwrap.dedent(
    """
    [[phases.steps]]
    id = "probe"
    title = "Probe"
    kind = "http"
    targets = "web"
    params = { url = "{{ app.url }}" }
    """
)
CURL = textwrap.dedent(
    """
    [[phases.steps]]
    id = "curl"
    title = "Curl"
    kind = "ssh"
    targets = "web"
    commands = ["curl -fsS {{ app.url }}"]
    """
)
ROOT = '[vars]\napp.root = "/r"\n'


def refused(tmp_path, steps: str, body: str) -> str:
    with pytest.raises(ConfigError) as caught:
        plan_for(tmp_path, steps, body)
    message = str(caught.value)
    assert "\n" not in message and "s3cr3t" not in message, message
    return message


def test_a_url_with_credentials_in_the_config_is_refused_for_a_param(tmp_path):
    message = refused(tmp_path, PROBE, ROOT + 'app.url = "https://deploy:s3cr3t@web.example/health"\n')
    assert message.startswith(str(tmp_path / "config.toml") + ":")
    assert "vars.app.url" in message and "step 'probe'" in message and "params.url" in message
    assert "secret" in message


def test_a_url_with_credentials_for_one_host_only_is_refused_naming_that_host(tmp_path):
    body = ROOT + '[hosts.a2.vars]\napp.url = "https://deploy:s3cr3t@a2.example/health"\n'
    message = refused(tmp_path, CURL, body)
    assert "hosts.a2.vars.app.url" in message and "host 'a2'" in message and "commands[0]" in message


def test_credentials_in_a_runbook_default_are_refused_too(tmp_path):
    variables = VARIABLES.replace("http://localhost:8000/health", "http://u:s3cr3t@localhost:8000/health")
    runbook = load_runbook(write_runbook(tmp_path / "runbook.toml", PROBE, variables=variables), KINDS)
    with pytest.raises(Exception) as caught:
        build_plan(runbook, load_config(config(tmp_path, ROOT)))
    message = str(caught.value)
    assert "\n" not in message and "s3cr3t" not in message and "app.url" in message, message


def test_a_plain_url_plans(tmp_path):
    plan = plan_for(tmp_path, PROBE + CURL, ROOT + 'app.url = "https://web.example/health?user=a"\n')
    assert plan.steps["probe"].params["url"] == "https://web.example/health?user=a"
