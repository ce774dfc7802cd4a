"""``warroom run --severity P1 --trigger X`` (console mode): the open-incident dialog comes up with
both already chosen, built the way the CLI builds it (``screens.launch.console_app``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ssh_step, write_config, write_runbook
from textual.widgets import Input, RadioSet

from actions.registry import KINDS
from console.engine import Actor
from console.model.config import load_config
from console.model.plan import build_plan
from console.model.runbook import load_runbook
from screens.launch import console_app
from screens.modals.open_incident import OTHER, OpenIncidentModal
from screens.war_room import WarRoomScreen

pytestmark = pytest.mark.sshd
SIZE = (140, 44)
TRIGGERS = 'triggers = ["Something broke", "Data corruption or loss"]'


def app_for(tmp_path: Path, lab, *, severity: str, trigger: str):
    cfg = load_config(write_config(tmp_path / "config.toml", lab, ["h1"]))
    rb = write_runbook(tmp_path / "rb.toml", ssh_step("one", "true"))
    rb.write_text(rb.read_text().replace('triggers = ["Something broke"]', TRIGGERS))
    plan = build_plan(load_runbook(str(rb), KINDS), cfg)
    return console_app(plan, cfg, tmp_path / "state", Actor("alice", "driver"), severity=severity, trigger=trigger)


def pressed(modal: OpenIncidentModal, radio_set: str) -> str:
    button = modal.query_one(f"#{radio_set}", RadioSet).pressed_button
    assert button is not None
    return str(button.name)


async def test_severity_and_trigger_are_preselected_and_open_the_incident(tmp_path, lab):
    app = app_for(tmp_path, lab, severity="P1", trigger="data corruption or LOSS")  # any case names it
    async with app.run_test(size=SIZE) as pilot:
        modal = pilot.app.screen
        assert isinstance(modal, OpenIncidentModal)
        assert pressed(modal, "severity") == "P1"
        assert pressed(modal, "trigger") == "Data corruption or loss"
        assert modal.query_one("#trigger-other", Input).value == ""
        assert "MAYBE" in str(modal.query_one("#decision-rule").render())  # P1's rule is shown, not P0's
        modal.query_one("#decision-reason", Input).focus()
        await pilot.press(*"bookings corrupt")
        await pilot.press("ctrl+o")
        await pilot.pause(0.5)
        assert isinstance(pilot.app.screen, WarRoomScreen)
        state = pilot.app.screen.session.state
        assert (state.severity, state.trigger, state.driver) == ("P1", "Data corruption or loss", "alice")
        await pilot.app.action_quit()
    [directory] = (tmp_path / "state" / "incidents").iterdir()
    opened = json.loads((directory / "journal.jsonl").read_text().splitlines()[0])
    assert (opened["data"]["severity"], opened["data"]["trigger"]) == ("P1", "Data corruption or loss")


async def test_a_trigger_the_runbook_does_not_list_is_preselected_as_other(tmp_path, lab):
    app = app_for(tmp_path, lab, severity="P0", trigger="Payments failing since 02:50")
    async with app.run_test(size=SIZE) as pilot:
        modal = pilot.app.screen
        assert isinstance(modal, OpenIncidentModal)
        assert pressed(modal, "severity") == "P0"
        assert pressed(modal, "trigger") == OTHER
        assert modal.query_one("#trigger-other", Input).value == "Payments failing since 02:50"
        await pilot.press("ctrl+o")
        await pilot.pause(0.5)
        assert isinstance(pilot.app.screen, WarRoomScreen)
        assert pilot.app.screen.session.state.trigger == "Payments failing since 02:50"
        await pilot.app.action_quit()
