"""Issue 15: the activity pane, the war room's shared timeline, on the driver's and a watcher's screen.

The driver's console runs on the engine's process (a local session); the observer's is a remote
session over the incident's attach socket, bound to its actor by a one-time token as an SSH
session's console is. Both apps run at once against the one engine.
"""

from __future__ import annotations

import asyncio

import pytest
from test_observer_attempts import NO_NOTES
from ui_support import OLIVE, make_app, make_session

from console.host.attach import AttachServer
from console.host.remote import RemoteSession
from console.model.rules import OBSERVER_NOTE_LIMIT
from screens.modals.prompt import PromptModal
from screens.panes.activity import ActivityPane
from screens.war_room import WarRoomScreen

pytestmark = pytest.mark.sshd
SIZE = (120, 40)


async def until(predicate, pilots, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.05)):
        for pilot in pilots:
            await pilot.pause()
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met")


def feed(pilot) -> list[str]:
    return pilot.app.screen.query_one(ActivityPane).lines()


async def note(pilot, text: str) -> None:
    await pilot.press("m")
    await pilot.pause()
    assert isinstance(pilot.app.screen, PromptModal)
    await pilot.press(*text, "enter")
    await pilot.pause()


class Room:
    """The driver's app (local session) and an observer's (remote session over the socket)."""

    def __init__(self, tmp_path, lab, config: str = "") -> None:
        self.driver = make_session(tmp_path, lab, keymap=config)
        self.server = AttachServer(self.driver.engine, seat_grace=5)

    async def __aenter__(self):
        await self.server.start()
        token = self.server.issue_token(OLIVE)
        self.observer = await RemoteSession.connect(self.server.path, token=token, via="ssh")
        return self

    async def __aexit__(self, *exc) -> None:
        await self.observer.aclose()
        await self.server.close()


async def test_a_drivers_and_an_observers_notes_appear_in_both_activity_panes(tmp_path, lab):
    async with (
        Room(tmp_path, lab) as room,
        make_app(room.driver).run_test(size=SIZE) as driver,
        make_app(room.observer).run_test(size=SIZE) as observer,
    ):
        pilots = (driver, observer)
        for pilot in pilots:
            await pilot.press("v")  # the right-hand area: output -> activity
        await until(lambda: any("olive (observer) joined (ssh)" in line for line in feed(driver)), pilots)
        screen = observer.app.screen
        assert isinstance(screen, WarRoomScreen) and screen.offered("note") is True
        await note(driver, "db team joined the bridge")
        await note(observer, "checkout shows 502s for me too")
        both = ("alice note: db team joined the bridge", "olive (observer) note: checkout shows 502s for me too")
        for pilot in pilots:
            await until(lambda p=pilot: all(any(n in line for line in feed(p)) for n in both), pilots)
        order = [line for line in feed(observer) if "note:" in line]
        assert [line.split(" ", 1)[1] for line in order] == list(both)  # newest at the bottom, T+ first
        assert all(line.startswith("T+0:00 ") for line in order)
        assert not observer.app.screen.query_one("#logs").display  # the activity shows, the output not
    texts = [(n["by"], n["text"]) for n in room.driver.state.notes]
    assert texts == [("alice", "db team joined the bridge"), ("olive", "checkout shows 502s for me too")]
    assert not room.driver.state.refusals


async def test_the_filter_shows_notes_only_then_the_selected_steps_lines(tmp_path, lab):
    session = make_session(tmp_path, lab)
    engine, me = session.engine, session.actor
    engine.tick(me, "notify", "admins", "pass", "paged the admins")
    engine.tick(me, "notify", "status", "na")
    engine.skip_step(me, "slow", "queue drained by hand")
    engine.add_note(me, "db team joined the bridge")
    async with make_app(session).run_test(size=SIZE) as pilot:
        await pilot.pause()
        pane = pilot.app.screen.query_one(ActivityPane)
        assert len(pane.lines()) == 6  # opened, seat, two ticks, the skip, the note
        await pilot.press("slash")  # from the output: shows the activity, notes only
        await pilot.pause()
        assert pilot.app.screen.query_one("#right").has_class("-activity")
        assert [line.split(" ", 2)[2] for line in pane.lines()] == [
            "✓ pass notify/admins: paged the admins",
            "note: db team joined the bridge",
        ]
        assert pane.border_title == "Activity · notes only"
        await pilot.press("slash")  # the selected step: maintenance, with nothing yet
        await pilot.pause()
        assert pane.border_title == "Activity · step maintenance" and pane.lines() == []
        await pilot.press("down", "down")  # to the manual step notify
        await pilot.pause()
        assert pane.border_title == "Activity · step notify"
        assert [line.split(" ", 2)[2] for line in pane.lines()] == [
            "✓ pass notify/admins: paged the admins",
            "– n/a notify/status",
        ]
        await pilot.press("slash")
        await pilot.pause()
        assert pane.border_title == "Activity · all" and len(pane.lines()) == 6
        engine.add_note(me, "rolling back now")
        await pilot.pause()
        assert pane.lines()[-1].endswith("alice note: rolling back now")  # appended live


async def test_an_observer_is_refused_a_note_when_the_config_says_so(tmp_path, lab):
    async with (
        Room(tmp_path, lab, config=NO_NOTES) as room,
        make_app(room.driver).run_test(size=SIZE) as driver,
        make_app(room.observer).run_test(size=SIZE) as observer,
    ):
        pilots = (driver, observer)
        await driver.press("v")
        screen = observer.app.screen
        assert screen.offered("note") is None  # shown disabled, sent anyway to be refused
        await observer.press("m")
        await observer.pause()
        assert isinstance(observer.app.screen, WarRoomScreen)  # no prompt: the press is refused as is
        refused = "olive (observer) refused note: observers watch only and cannot act"
        await until(lambda: any(refused in line for line in feed(driver)), pilots)
    [refusal] = room.driver.state.refusals
    assert (refusal["by"], refusal["role"], refusal["command"]) == ("olive", "observer", "note")
    assert refusal["reason"].endswith("(server.observers_may_note is off)")
    assert not room.driver.state.notes


async def test_an_observers_note_is_capped_and_its_control_characters_neutralised(tmp_path, lab):
    async with Room(tmp_path, lab) as room:
        with pytest.raises(Exception, match=f"at most {OBSERVER_NOTE_LIMIT} characters"):
            await room.observer.command("note", text="x" * (OBSERVER_NOTE_LIMIT + 1))
        await room.observer.command("note", text="look \x1b[2J\x1b]0;owned\x07 here")
        await room.observer.command("note", text="y" * OBSERVER_NOTE_LIMIT)  # at the limit: taken
    texts = [n["text"] for n in room.driver.state.notes]
    assert texts == ["look ^[[2J^[]0;owned^G here", "y" * OBSERVER_NOTE_LIMIT]
    assert room.driver.state.refusals[0]["by"] == "olive"
