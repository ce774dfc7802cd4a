"""The docker kind without an engine: runbook checks, plan text and parameter parsing."""

from __future__ import annotations

import pytest
from conftest import write_runbook
from docker_support import docker_step

from actions import registry
from actions.docker.params import ParamError, parse, since_timestamp
from actions.docker.project import image_tag
from actions.registry import KINDS
from console.model.errors import RunbookError
from console.model.runbook import load_runbook

pytestmark = pytest.mark.sshd


# ----- runbook checks, plan text, parameters (no engine) ---------------------------------------------


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"operation": "restart"}, "operation: give one of status, stop, start, logs, compose"),
        ({"operation": "status", "tail": 3}, "tail: not a parameter of operation 'status'"),
        ({"operation": "logs", "follow": 30}, "follow: 30s must be shorter than the step's timeout (30s)"),
        ({"operation": "logs", "tail": -1}, 'tail: expected a number of lines >= 0 or "all"'),
        ({"operation": "status", "project": "Salon Manager"}, "is not a compose project name"),
        ({"operation": "compose", "compose": "up", "file": "x.yml"}, '"up" must run detached'),
        ({"operation": "compose", "compose": "rm -f", "file": "x.yml"}, "'rm' is not one of"),
        ({"operation": "compose", "compose": "down"}, "file: give the compose file"),
    ],
)
def test_bad_parameters_fail_the_runbook_load(tmp_path, params, problem):
    path = write_runbook(tmp_path / "runbook.toml", docker_step("d", **params))
    with pytest.raises(RunbookError) as caught:
        load_runbook(path, KINDS)
    assert problem in str(caught.value)
    assert "phases[0].steps[0].params" in str(caught.value)


def test_placeholders_are_checked_once_rendered():
    params = {"operation": "status", "project": "{{ docker.compose_project }}", "services": "{{ app.services }}"}
    assert parse(params, 30, static=True).project is None
    rendered = parse({**params, "project": "salonmanager", "services": "backend frontend"}, 30)
    assert rendered.project == "salonmanager" and rendered.services == ("backend", "frontend")
    with pytest.raises(ParamError, match="not a compose project name"):
        parse({**params, "project": "Bad Name"}, 30)


def test_plan_says_endpoint_project_and_services():
    from console.model.plan import PlannedStep

    def planned(**params) -> str:
        step = PlannedStep(id="s", title="s", kind="docker", phase="p", automated=True, hosts=("app1",), params=params)
        return registry.create("docker").plan(step)[0].text

    text = planned(operation="status", project="sm", services=["backend"], expect_image_tag="v0.9.0", base_url="")
    assert text == (
        "engine unix:///var/run/docker.sock on app1 forwarded over SSH: check compose project sm (backend): "
        "running, healthy where a healthcheck exists, image tag v0.9.0"
    )
    assert planned(operation="stop", project="sm").startswith("engine unix:///var/run/docker.sock on app1 forwarded")
    assert "project: missing; give the compose project" in planned(operation="start")
    text = planned(operation="logs", project="sm", base_url="tcp://10.0.0.5:2375", tail=50, since="10m", follow=20)
    assert text == (
        "engine tcp://10.0.0.5:2375: logs of compose project sm (all services): "
        "last 50 lines since 10m, then follow for 20s"
    )


def test_image_tags_and_since():
    assert image_tag("registry.example:5000/team/app:v0.9.0") == "v0.9.0"
    assert image_tag("registry.example:5000/team/app") == "latest"
    assert image_tag("app:v1@sha256:" + "a" * 64) == "v1"
    assert image_tag("sha256:" + "b" * 64) is None
    assert since_timestamp("10m", now=1000.0) == 400.0
    assert since_timestamp("2026-01-01T00:00:00") == since_timestamp("2026-01-01T00:00:00+00:00")
    with pytest.raises(ParamError):
        since_timestamp("yesterday")
