"""Step params given through ``{{ placeholders }}``: read back as the numbers they spell, and
checked by the step's kind when the plan is built, so ``warroom check`` and ``warroom plan``
refuse a bad one before any incident instead of the step failing in one."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from params_support import warroom, write_config, write_runbook

from actions.registry import KINDS
from console.model.config import load_config
from console.model.errors import RunbookError
from console.model.plan import build_plan
from console.model.plan_text import render_plan
from console.model.runbook import load_runbook

ROOT = Path(__file__).resolve().parent.parent


def step(step_id: str, kind: str, params: str, *, targets: bool = True) -> str:
    return textwrap.dedent(
        f"""
        [[phases.steps]]
        id = "{step_id}"
        title = "Step {step_id}"
        kind = "{kind}"
        {'targets = "app"' if targets else ""}
        timeout = 60
        params = {params}
        """
    )


STEPS = (
    step(
        "find",
        "mysql",
        '{ operation = "find-backup", database = "shop@127.0.0.1:3306/shop", rpo_minutes = "{{ keepalive }}" }',
    )
    + step("health", "http", '{ url = "http://127.0.0.1:8000/", expect_status = "{{ health.expect_status }}" }')
    + step("probe", "http", '{ url = "http://127.0.0.1:8000/", timeout = "{{ health.timeout }}" }', targets=False)
    + step("tell", "notify", '{ channel = "slack", template = "hi", timeout = "{{ health.timeout }}" }', targets=False)
    + step("checkout", "git", '{ ref = "{{ app.rollback_ref }}" }').replace('kind = "git"', 'kind = "git"\ncwd = "/r"')
)


def test_numeric_placeholders_plan_as_numbers_and_validate(tmp_path):
    runbook = load_runbook(write_runbook(tmp_path / "runbook.toml", STEPS), KINDS)
    plan = build_plan(runbook, load_config(write_config(tmp_path / "config.toml")))
    assert plan.steps["find"].params["rpo_minutes"] == 60
    assert plan.steps["health"].params["expect_status"] == 204
    assert plan.steps["probe"].params["timeout"] == 2.5
    assert plan.steps["tell"].params["timeout"] == 2.5
    # a text field stays text, whatever it spells
    ref_plan = build_plan(runbook, load_config(write_config(tmp_path / "c2.toml", rollback_ref="1")))
    assert ref_plan.steps["checkout"].params["ref"] == "1"
    for planned in plan.steps.values():
        assert KINDS[planned.kind].step_params(planned) is not None
    text = render_plan(plan, KINDS, None)
    assert "RPO of 60 min" in text and "invalid" not in text


@pytest.mark.parametrize(
    ("steps", "step_id", "key"),
    [
        (
            step(
                "find",
                "mysql",
                '{ operation = "find-backup", database = "shop@127.0.0.1:3306/shop", '
                'rpo_minutes = "{{ app.rollback_ref }}" }',
            ),
            "find",
            "rpo",
        ),
        (step("h", "http", '{ url = "http://x/", expect_status = "{{ app.rollback_ref }}" }'), "h", "expect_status"),
        (step("h", "http", '{ url = "http://x/", timeout = "{{ app.rollback_ref }}" }', targets=False), "h", "timeout"),
        (
            step(
                "n",
                "notify",
                '{ channel = "slack", template = "hi", timeout = "{{ app.rollback_ref }}" }',
                targets=False,
            ),
            "n",
            "timeout",
        ),
    ],
)
def test_a_placeholder_that_renders_to_text_fails_the_plan(tmp_path, steps, step_id, key):
    path = write_runbook(tmp_path / "runbook.toml", steps)
    runbook = load_runbook(path, KINDS)  # at load the value is a placeholder: judged once rendered
    config = load_config(write_config(tmp_path / "config.toml", rollback_ref="abc"))
    with pytest.raises(RunbookError) as caught:
        build_plan(runbook, config)
    message = str(caught.value)
    assert str(path) in message and f"step {step_id!r}" in message and f"params.{key}" in message
    assert "\n" not in message


def test_a_rendered_value_out_of_range_fails_the_plan(tmp_path):
    steps = step("h", "http", '{ url = "http://x/", timeout = "{{ keepalive }}" }')  # keepalive: per host
    runbook = load_runbook(write_runbook(tmp_path / "runbook.toml", steps), KINDS)
    with pytest.raises(RunbookError, match=r"params.timeout \(60s\) must be shorter than the step timeout \(60s\)"):
        build_plan(runbook, load_config(write_config(tmp_path / "config.toml")))


@pytest.mark.parametrize("command", ["check", "plan"])
def test_check_and_plan_say_it_in_one_line(tmp_path, command):
    runbook = write_runbook(
        tmp_path / "runbook.toml",
        step(
            "find",
            "mysql",
            '{ operation = "find-backup", database = "shop@127.0.0.1:3306/shop", '
            'rpo_minutes = "{{ app.rollback_ref }}" }',
        ),
    )
    config = write_config(tmp_path / "config.toml", rollback_ref="abc")
    result = warroom(command, "-c", str(config), "--runbook", str(runbook))
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert str(runbook) in lines[0] and "step 'find'" in lines[0] and "params.rpo_minutes" in lines[0]


def test_plan_prints_the_rendered_number(tmp_path):
    runbook = write_runbook(
        tmp_path / "runbook.toml",
        step(
            "find",
            "mysql",
            '{ operation = "find-backup", database = "shop@127.0.0.1:3306/shop", rpo_minutes = "{{ keepalive }}" }',
        ),
    )
    result = warroom("plan", "-c", str(write_config(tmp_path / "config.toml")), "--runbook", str(runbook))
    assert result.returncode == 0, result.stderr
    assert "RPO of 60 min" in result.stdout


def test_a_field_of_number_or_text_takes_the_number(tmp_path):
    steps = step("wait", "docker", '{ operation = "status", project = "sm", wait = "{{ health.timeout }}" }') + step(
        "logs", "docker", '{ operation = "logs", project = "sm", tail = "{{ keepalive }}" }'
    )
    runbook = load_runbook(write_runbook(tmp_path / "runbook.toml", steps), KINDS)
    plan = build_plan(runbook, load_config(write_config(tmp_path / "config.toml")))
    assert plan.steps["wait"].params["wait"] == 2.5
    assert plan.steps["logs"].params["tail"] == 60  # int | str: "60" is the number of lines


class _Sink:
    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data

    def close(self) -> tuple[int, str]:
        return len(self.data), ""


class _Ctx:
    """Just what a notify step uses when its params are refused."""

    def __init__(self, step) -> None:
        self.step, self.sinks, self.warnings = step, {}, []

    def sink(self, host: str) -> _Sink:
        return self.sinks.setdefault(host, _Sink())

    def warn(self, host: str, message: str) -> None:
        self.warnings.append(message)


def test_a_notify_step_with_bad_params_warns_and_never_blocks():
    """A plan journaled before this check could still carry one: the rollback goes on."""
    import asyncio

    from actions.base import LOCAL_HOST
    from console.model.plan import PlannedStep

    planned = PlannedStep(
        id="tell",
        title="Tell",
        kind="notify",
        phase="main",
        automated=True,
        hosts=(LOCAL_HOST,),
        params={"channel": "pager", "template": "hi"},
        timeout=60,
    )
    assert "invalid params.channel" in KINDS["notify"]().plan(planned)[0].text
    ctx = _Ctx(planned)
    run = asyncio.run(KINDS["notify"]().run(ctx))
    outcome = run.outcomes[LOCAL_HOST]
    assert run.ok and outcome.facts["delivered"] is False
    assert "step tell: params.channel" in outcome.facts["error"]
    assert len(ctx.warnings) == 1 and "NOT delivered" in ctx.warnings[0]
