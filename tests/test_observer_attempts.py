"""Findings 7 and 15: an observer's key presses reach the engine, which refuses and journals them;
nobody's console writes files on the server behind the engine's back (export, Textual's screenshot)."""

from __future__ import annotations

import json

import pytest
from ui_support import ALICE, OLIVE, make_app, make_session

from console.engine import Actor
from console.host.session import LocalSession
from console.report import build_report, render
from screens.modals.prompt import PromptModal
from screens.war_room import WarRoomScreen

pytestmark = pytest.mark.sshd
SIZE = (140, 44)
OBSERVER_KEYS = {
    "n": "start",
    "s": "skip",
    "p": "tick",
    "m": "note",
    "c": "comms",
    "ctrl+e": "close",
    "d": "request-seat",
}
REPORTS = ("report.md", "report.html", "report.json")
NO_NOTES = "[server]\nobservers_may_note = false\n"
"""The config that keeps observers' notes off too: then every key of theirs is refused."""


def refusals(session: LocalSession) -> list[dict]:
    path = session.directory / "journal.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    return [r for r in records if r["type"] == "command.refused"]


async def test_an_observers_keys_are_sent_refused_journaled_and_reported(tmp_path, lab):
    session = make_session(tmp_path, lab, actor=OLIVE, keymap=NO_NOTES)
    async with make_app(session).run_test(size=SIZE) as pilot:
        screen = pilot.app.screen
        footer = {b.binding.id: b.enabled for b in screen.active_bindings.values() if b.binding.id}
        assert footer["run-next"] is False and footer["note"] is False  # still shown disabled
        for key in OBSERVER_KEYS:
            await pilot.press(key)
            await pilot.pause(0.1)
            assert isinstance(pilot.app.screen, WarRoomScreen), f"{key} opened {pilot.app.screen!r}"
        await pilot.pause(0.3)
        assert not any(isinstance(s, PromptModal) for s in pilot.app.screen_stack)
        shown = [n.message for n in pilot.app._notifications]
        assert any("observers watch only" in m for m in shown), shown
    refused = refusals(session)
    assert [(r["actor"], r["data"]["command"]) for r in refused] == [("olive", c) for c in OBSERVER_KEYS.values()]
    assert all(r["data"]["reason"].startswith("observers watch only and cannot act") for r in refused)
    assert refused[3]["data"]["reason"].endswith("(server.observers_may_note is off)")
    assert all(not s.attempts for s in session.state.steps.values()) and session.state.status == "open"
    report = render(build_report(session.directory), "md")
    assert "No command was refused" not in report and "observers watch only" in report


async def test_a_driver_without_the_seat_is_refused_by_the_engine_not_the_screen(tmp_path, lab):
    session = make_session(tmp_path, lab)  # alice holds the seat
    bob = LocalSession(session.engine, Actor("bob", "driver"))
    async with make_app(bob).run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await pilot.pause(0.3)
    [refused] = refusals(session)
    assert refused["actor"] == "bob" and "does not hold the driver seat" in refused["data"]["reason"]
    assert not session.state.steps["maintenance"].attempts


async def test_export_is_the_engines_an_observer_is_refused_and_writes_nothing(tmp_path, lab):
    session = make_session(tmp_path, lab, actor=OLIVE)
    async with make_app(session).run_test(size=SIZE) as pilot:
        assert pilot.app.screen.check_action("export_report", ()) is True  # sent, for the engine to refuse
        footer = {b.binding.id: b.enabled for b in pilot.app.screen.active_bindings.values() if b.binding.id}
        assert footer["export-report"] is False
        await pilot.press("e")
        await pilot.pause(0.5)
    assert not [name for name in REPORTS if (session.directory / name).exists()]
    [refused] = refusals(session)
    assert (refused["actor"], refused["data"]["command"]) == ("olive", "export")


async def test_the_driver_exports_through_the_engine(tmp_path, lab):
    session = make_session(tmp_path, lab)
    async with make_app(session).run_test(size=SIZE) as pilot:
        await pilot.press("e")
        for _ in range(100):
            await pilot.pause(0.05)
            if all((session.directory / name).exists() for name in REPORTS):
                break
        shown = [n.message for n in pilot.app._notifications]
    assert all((session.directory / name).exists() for name in REPORTS)
    assert any("report.md" in m for m in shown), shown
    assert not refusals(session)


@pytest.mark.parametrize("actor", [OLIVE, ALICE], ids=["observer", "driver"])
async def test_the_palette_has_no_screenshot_and_the_action_writes_nothing(tmp_path, lab, monkeypatch, actor):
    home = tmp_path / "home"
    (home / "Downloads").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_DOWNLOAD_DIR", raising=False)
    monkeypatch.chdir(home)
    session = make_session(tmp_path, lab, actor=actor)
    async with make_app(session).run_test(size=SIZE) as pilot:
        titles = [c.title for c in pilot.app.get_system_commands(pilot.app.screen)]
        assert "Screenshot" not in titles and "Quit" in titles
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        for char in "Screenshot":
            await pilot.press(char)
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause(0.3)
        await pilot.app.run_action("screenshot")
        await pilot.pause(0.5)
    assert not list(home.rglob("*.svg")) and not list(tmp_path.rglob("*.svg"))
