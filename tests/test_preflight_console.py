"""The console's side of the gate (Textual Pilot, real sshd hosts): an incident started with
``--force`` journals the override with its opening and says so on the screen, which now covers
the table printed before it."""

from __future__ import annotations

import json
import sys

import pytest
from conftest import declare, ssh_step, write_config, write_runbook

from actions.registry import KINDS
from console.engine import Actor
from console.engine.preflight import preflight_gate
from console.model.config import load_config
from console.model.plan import build_plan
from console.model.runbook import load_runbook
from screens.app import WarroomApp
from screens.launch import CONSOLE_SHARING, _opener
from screens.war_room import WarRoomScreen

pytestmark = pytest.mark.sshd
UNSET = "WR_GATE_CONSOLE_UNSET"


async def test_a_forced_console_incident_journals_the_override_and_shows_it(tmp_path, lab, monkeypatch, capsys):
    monkeypatch.delenv(UNSET, raising=False)
    extra = f'\n[vars.database]\nname = "app"\nuser = "app"\npassword = "env:{UNSET}"\n'
    config = load_config(write_config(tmp_path / "config.toml", lab, ["h1"], extra=extra))
    steps = ssh_step("migrate", "true", extra='secret_env = { DB_PASS = "database.password" }\n')
    variables = declare(database__name="string", database__user="string", database__password="secret")
    runbook = write_runbook(tmp_path / "runbook.toml", steps, variables=variables)
    plan = build_plan(load_runbook(runbook, KINDS), config)
    gate = await preflight_gate(plan, config, force=True, out=sys.stdout)
    assert not gate.passed and "--force: starting anyway" in capsys.readouterr().out
    actor = Actor("alice", "driver")
    opener = _opener(lambda: app, tmp_path / "state", plan, config, actor, CONSOLE_SHARING, preflight=gate)
    app = WarroomApp(plan=plan, opener=opener)
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.click("#open-ok")
        await pilot.pause(0.3)
        assert isinstance(pilot.app.screen, WarRoomScreen)
        notices = {n.title: n.message for n in pilot.app._notifications}
        assert f"warroom: secret database.password (env:{UNSET})" in notices["Preflight overridden"]
        journal = pilot.app.screen.session.engine.journal.path
        await pilot.app.action_quit()
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    assert [r["type"] for r in records[:2]] == ["incident.opened", "preflight.overridden"]
    assert records[1]["data"]["failed"][0]["check"] == f"secret database.password (env:{UNSET})"
