"""Every step kind declares its ``params`` as one model: a kind whose commands or checks say it all
refuses any params rather than ignoring them, every number must be finite, and a kind words a
problem the same when the runbook loads and once the plan has rendered it."""

from __future__ import annotations

from pathlib import Path

import pytest
from docker_support import docker_step
from params_support import warroom, write_config, write_runbook

from actions.params import NoParams, StepParams
from actions.registry import KINDS
from console.model.config import load_config
from console.model.errors import RunbookError
from console.model.plan import build_plan
from console.model.runbook import load_runbook

ROOT = Path(__file__).resolve().parent.parent


def step(step_id: str, kind: str, body: str) -> str:
    return f'\n[[phases.steps]]\nid = "{step_id}"\ntitle = "Step {step_id}"\nkind = "{kind}"\ntimeout = 60\n{body}\n'


SSH = step("hello", "ssh", 'targets = "app"\ncommands = ["echo hi"]\nparams = { a = 1 }')
MANUAL = step("look", "manual", 'checks = [{ id = "up", text = "Is it up?" }]\nparams = { a = 1 }')


def load_problem(path: Path) -> str:
    with pytest.raises(RunbookError) as caught:
        load_runbook(path, KINDS)
    return str(caught.value)


# ----- every kind has a model --------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_declares_its_params_as_a_model(kind):
    model = KINDS[kind].params_model
    assert isinstance(model, type) and issubclass(model, StepParams)


def test_ssh_and_manual_take_no_params():
    assert KINDS["ssh"].params_model is NoParams and KINDS["manual"].params_model is NoParams
    assert NoParams.known() == ()


# ----- ssh and manual refuse params --------------------------------------------------------------


@pytest.mark.parametrize(
    ("steps", "words"),
    [
        (SSH, "an ssh step takes no params (its commands say what it does); remove a"),
        (MANUAL, "a manual step takes no params (its checks say what the driver verifies); remove a"),
    ],
)
def test_params_on_a_step_without_any_are_refused_at_load(tmp_path, steps, words):
    path = write_runbook(tmp_path / "runbook.toml", steps)
    message = load_problem(path)
    assert "\n" not in message
    assert message.startswith(f"{path}:") and f"phases[0].steps[0].params: {words}" in message


def test_ssh_and_manual_without_params_still_load(tmp_path):
    steps = SSH.replace("params = { a = 1 }", "") + MANUAL.replace("params = { a = 1 }", "")
    runbook = load_runbook(write_runbook(tmp_path / "runbook.toml", steps), KINDS)
    assert [s.kind for s in runbook.model.phases[0].steps] == ["ssh", "manual"]


@pytest.mark.parametrize(("steps", "kind"), [(SSH, "an ssh step"), (MANUAL, "a manual step")])
def test_plan_refuses_them_in_one_line(tmp_path, steps, kind):
    runbook = write_runbook(tmp_path / "runbook.toml", steps)
    result = warroom("plan", "-c", str(write_config(tmp_path / "config.toml")), "--runbook", str(runbook))
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert str(runbook) in lines[0] and "phases[0].steps[0].params" in lines[0]
    assert f"{kind} takes no params" in lines[0] and "remove a" in lines[0]


# ----- one wording for mysql's unknown keys -------------------------------------------------------


def test_mysql_words_an_unknown_key_once(tmp_path):
    body = 'targets = "app"\nparams = { operation = "verify", zeta = 1, speed = 3 }'
    message = load_problem(write_runbook(tmp_path / "runbook.toml", step("db", "mysql", body)))
    assert "\n" not in message
    assert "steps[0].params.zeta: unknown parameter for a mysql step (known: operation, database, " in message
    # the same words outside a load (a plan journaled before the check), from the same template
    problem = KINDS["mysql"].check_rendered({"operation": "verify", "speed": 3}, 60)
    assert problem is not None and problem.startswith("unknown parameter for a mysql step (known: operation, ")


# ----- no NaN or infinity for a number -------------------------------------------------------------


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
@pytest.mark.parametrize(
    ("kind", "params", "key"),
    [
        ("http", 'url = "http://127.0.0.1:8000/", timeout = {v}', "params.timeout"),
        ("http", 'url = "http://127.0.0.1:8000/", retry_until = {v}', "params.retry_until"),
        ("notify", 'channel = "slack", template = "hi", timeout = {v}', "params.timeout"),
        ("docker", 'operation = "status", wait = {v}', "wait"),
        ("docker", 'operation = "logs", follow = {v}', "follow"),
    ],
)
def test_a_number_that_is_not_finite_is_refused(tmp_path, kind, params, key, value):
    targets = 'targets = "app"\n' if kind == "docker" else ""
    body = targets + "params = { " + params.format(v=value) + " }"
    message = load_problem(write_runbook(tmp_path / "runbook.toml", step("s", kind, body)))
    assert "\n" not in message and f"phases[0].steps[0].params: {key}: " in message
    if value == "nan":  # no range check catches it: every comparison with NaN is false
        assert f"{key}: expected a finite number, got nan" in message


def test_a_placeholder_that_renders_to_nan_fails_the_plan(tmp_path):
    body = 'params = { url = "http://127.0.0.1:8000/", timeout = "{{ app.rollback_ref }}" }'
    runbook = load_runbook(write_runbook(tmp_path / "runbook.toml", step("probe", "http", body)), KINDS)
    with pytest.raises(RunbookError) as caught:
        build_plan(runbook, load_config(write_config(tmp_path / "config.toml", rollback_ref="nan")))
    assert "step 'probe': params.timeout: expected a finite number, got nan (once rendered)" in str(caught.value)


# ----- docker says it the same at load and once rendered --------------------------------------------


def test_docker_words_a_bad_wait_the_same_at_load_and_plan(tmp_path):
    at_load = load_problem(
        write_runbook(tmp_path / "a.toml", docker_step("d", operation="status", project="sm", wait="abc"))
    )
    words = "wait: expected a number of seconds >= 0, got 'abc'"
    assert f"phases[0].steps[0].params: {words}" in at_load

    path = write_runbook(
        tmp_path / "b.toml", docker_step("d", operation="status", project="sm", wait="{{ app.rollback_ref }}")
    )
    runbook = load_runbook(path, KINDS)
    with pytest.raises(RunbookError) as caught:
        build_plan(runbook, load_config(write_config(tmp_path / "config.toml", rollback_ref="abc")))
    assert f"phases[0].steps[0].params: step 'd': {words} (once rendered on host 'h1')" in str(caught.value)
    assert "params.wait" not in str(caught.value)
