"""What the console's 1 s clock costs every session: a repaint of what changed, nothing more.

Fifty watchers each run this clock (issue 12): a tick that re-matches the CSS of the countdown or
lays the whole screen out again costs every one of them, every second, whether or not anything
moved. These count those operations rather than time them.
"""

from __future__ import annotations

import gc

import pytest
from textual.widgets import Digits, Footer
from textual.widgets._footer import FooterKey
from ui_support import ALICE, OLIVE, make_app, make_session

from screens.panes.contacts import ContactsPane
from screens.panes.countdown import CountdownPane
from screens.panes.footer import WATCHERS
from screens.war_room import WarRoomScreen

pytestmark = pytest.mark.sshd
SIZE = (160, 48)


class Counted:
    """Counts the screen's layouts and the stylesheet's re-matches while it is installed."""

    def __init__(self, app) -> None:
        self.layouts = self.restyles = 0
        screen, stylesheet = app.screen, app.stylesheet
        layout, apply = screen._refresh_layout, stylesheet.apply

        def counted_layout(*args, **kwargs):
            self.layouts += 1
            return layout(*args, **kwargs)

        def counted_apply(*args, **kwargs):
            self.restyles += 1
            return apply(*args, **kwargs)

        screen._refresh_layout, stylesheet.apply = counted_layout, counted_apply

    def reset(self) -> None:
        self.layouts = self.restyles = 0


async def quiet(pilot) -> Counted:
    """Counters installed once the start-up's own layouts are done."""
    counted = Counted(pilot.app)
    for _ in range(20):
        counted.reset()
        await pilot.pause(0.1)
        if (counted.layouts, counted.restyles) == (0, 0):
            return counted
    raise AssertionError("the screen never stopped laying itself out")


async def ticked(pilot, times: int = 3) -> None:
    screen = pilot.app.screen
    assert isinstance(screen, WarRoomScreen)
    for _ in range(times):
        screen._clock_tick()
        await pilot.pause()


async def test_a_clock_tick_with_nothing_changed_neither_restyles_nor_lays_out(tmp_path, lab):
    session = make_session(tmp_path, lab, actor=OLIVE)
    async with make_app(session).run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)
        counted = await quiet(pilot)
        await ticked(pilot)
        assert (counted.layouts, counted.restyles) == (0, 0)


async def test_a_clock_tick_shows_the_new_time_without_a_layout(tmp_path, lab):
    session = make_session(tmp_path, lab, actor=OLIVE)
    async with make_app(session).run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)
        app = pilot.app
        before = app.screen.query_one(Digits).value
        facts = str(app.screen.query_one("#rto-facts").render())
        counted = await quiet(pilot)
        session.clock.advance(seconds=61)
        await ticked(pilot, 1)
        assert app.screen.query_one(Digits).value != before
        assert str(app.screen.query_one("#rto-facts").render()) != facts  # elapsed moved on
        assert "elapsed 01:01" in str(app.screen.query_one("#rto-facts").render())
        assert (counted.layouts, counted.restyles) == (0, 0)


async def test_the_countdown_level_and_the_comms_still_follow_the_clock(tmp_path, lab):
    """Skipping unchanged work must not skip a change: the RTO's level moves and the comms fall due."""
    session = make_session(tmp_path, lab, actor=OLIVE)
    async with make_app(session).run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)
        pane = pilot.app.screen.query_one(CountdownPane)
        contacts = pilot.app.screen.query_one(ContactsPane).text()
        assert pane.has_class("-ok")
        session.clock.advance(hours=24)
        await ticked(pilot, 1)
        assert pane.has_class("-breached") and not pane.has_class("-ok")
        assert pilot.app.screen.query_one(ContactsPane).text() != contacts


async def test_the_footers_rebuilds_release_the_keys_they_replace(tmp_path, lab):
    """Each note prompt rebuilds the footer twice; the keys it replaced must not stay alive."""
    session = make_session(tmp_path, lab, actor=ALICE)
    async with make_app(session).run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)
        for k in range(6):
            await pilot.press("m")
            await pilot.pause(0.05)
            await pilot.press(*str(k), "enter")
            await pilot.pause(0.05)
        await pilot.pause(0.2)
        footer = pilot.app.screen.query_one(Footer)
        shown = len(footer.query(FooterKey))
        assert len(session.state.notes) == 6
        assert len(getattr(footer, WATCHERS)["compact"]) <= shown  # the palette key has none
        gc.collect()
        alive = sum(isinstance(o, FooterKey) for o in gc.get_objects())
        assert alive <= shown + 5, f"{alive} footer keys alive, {shown} shown"
