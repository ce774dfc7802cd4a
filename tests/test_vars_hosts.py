"""Variables on real sshd hosts: each host gets its own value (three levels), and hostile values
arrive as literal text in every quoting context, so no value changes the shape of a command."""

from __future__ import annotations

import json

import pytest
import tomli_w
from conftest import ALICE, declare, write_config, write_runbook

from actions.registry import KINDS
from console.engine import Engine
from console.model import events
from console.model.config import load_config
from console.model.plan import build_plan
from console.model.runbook import load_runbook

pytestmark = pytest.mark.sshd

HOSTILE = 'it\'s "x" $(touch pwned1) `touch pwned2` ; touch pwned3 & \\ $HOME * {a,b} #'


def planned_step(step_id: str, *commands: str, cwd: str) -> str:
    """An ssh step on group app; commands as TOML basic strings (they hold single quotes)."""
    lines = [f'id = "{step_id}"', f'title = "{step_id}"', 'kind = "ssh"', 'targets = "app"', f"cwd = {json.dumps(cwd)}"]
    return "\n[[phases.steps]]\n" + "\n".join(lines) + f"\ncommands = {json.dumps(list(commands))}\n"


def open_engine(tmp_path, lab, hosts, steps, variables, extra, groups=None) -> Engine:
    config = load_config(write_config(tmp_path / "config.toml", lab, hosts, groups=groups, extra=extra))
    runbook = load_runbook(write_runbook(tmp_path / "runbook.toml", steps, variables=variables), KINDS)
    engine = Engine.open(
        tmp_path / "state", build_plan(runbook, config), ALICE, severity="P0", trigger="test", config=config
    )
    engine.take_seat(ALICE)
    return engine


async def test_each_host_gets_its_own_value_from_three_levels(tmp_path, lab):
    steps = planned_step("write", "printf '%s\\n' {{ app.root }} > got", cwd="$HOSTDIR")
    extra = """
        [vars.app]
        root = "/srv/common"

        [group_vars.second.app]
        root = "/srv/from group"

        [hosts.h3.vars]
        app.root = "/srv/h3's own"
        """
    groups = {"app": ["h1", "h2", "h3"], "second": ["h2"]}
    engine = open_engine(tmp_path, lab, ["h1", "h2", "h3"], steps, declare(app__root="path"), extra, groups)
    try:
        step = engine.plan.steps["write"]
        assert step.commands == ("printf '%s\\n' /srv/common > got",)
        assert step.for_host("h3").commands == ("printf '%s\\n' '/srv/h3'\"'\"'s own' > got",)
        assert await engine.run_step(ALICE, "write") == "succeeded"
    finally:
        await engine.aclose()
    got = {name: (lab.hosts[name].root / "got").read_text() for name in ("h1", "h2", "h3")}
    assert got == {"h1": "/srv/common\n", "h2": "/srv/from group\n", "h3": "/srv/h3's own\n"}
    records = [json.loads(line) for line in engine.journal.path.read_text().splitlines()]
    finished = [r["data"] for r in records if r["type"] == events.STEP_HOST_FINISHED]
    assert sorted(f["host"] for f in finished) == ["h1", "h2", "h3"]
    assert all(f["result"]["status"] == "ok" for f in finished)
    assert sum(r["type"] == events.STEP_STARTED for r in records) == 1  # one step, run per rendering


async def test_hostile_values_arrive_literally_in_every_quoting_context(tmp_path, lab):
    commands = [
        "printf '%s\\n' {{ v }} > unquoted",
        "printf '%s\\n' \"{{ v }}\" > double",
        "printf '%s\\n' '{{ v }}' > single",
        "printf '%s\\n' {{ xs }} > listed",
        "printf '%s\\n' {{ home }}",
        "mkdir -p -- {{ dir }}",
    ]
    steps = planned_step("quote", *commands, cwd="$HOSTDIR") + planned_step(
        "inside", 'pwd > "$HOSTDIR/pwd"', cwd="$HOSTDIR/{{ dir }}"
    )
    variables = declare(v="string", xs="list", home="path", dir="path")
    values = {"v": HOSTILE, "xs": [HOSTILE, "two words", ""], "home": "~/x y", "dir": 'd $(touch pwned4) "q" `x`'}
    extra = "\n" + tomli_w.dumps({"vars": values})
    engine = open_engine(tmp_path, lab, ["h1"], steps, variables, extra)
    try:
        assert await engine.run_step(ALICE, "quote") == "succeeded", engine.state.steps["quote"].attempt.results
        assert await engine.run_step(ALICE, "inside") == "succeeded", engine.state.steps["inside"].attempt.results
        output = engine.output_path("quote", 1, "h1").read_text()
    finally:
        await engine.aclose()
    root = lab.hosts["h1"].root
    for name in ("unquoted", "double", "single"):
        assert (root / name).read_text() == HOSTILE + "\n", name
    assert (root / "listed").read_text() == f"{HOSTILE}\ntwo words\n\n"
    home_line = output.strip().splitlines()[-1]
    assert home_line.endswith("/x y") and home_line.startswith("/"), output  # ~/ still expands
    assert (root / "pwd").read_text() == f"{root / values['dir']}\n"
    assert not [p.name for p in root.rglob("pwned*")]
