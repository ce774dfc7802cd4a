"""Issue 15: the war room at 80x24 stays usable, for the driver and for a watcher.

Checked on what the terminal shows (the frames the app composites, :mod:`painted_support`): the
header shortens its fields instead of cutting them, the countdown gives its large digits' rows to
the checklist and the output, and every contact can be scrolled to.
"""

from __future__ import annotations

import pytest
from painted_support import PaintedScreen
from textual import events
from ui_support import ALICE, OLIVE, make_app, make_session

from screens.panes.contacts import ContactsPane
from screens.panes.countdown import CountdownPane

pytestmark = pytest.mark.sshd
SMALL = (80, 24)
CONTACTS = "".join(
    f'\n[[contacts]]\nrole = "Escalation {n}"\nname = "Person {n}"\nphone = "+49-30-555-{n:04}"\n' for n in range(1, 9)
)


async def test_a_watchers_header_shortens_instead_of_being_cut(tmp_path, lab):
    session = make_session(tmp_path, lab, actor=OLIVE)
    session.engine.take_seat(ALICE)
    app = make_app(session)
    async with app.run_test(size=SMALL) as pilot:
        painted = PaintedScreen(app, SMALL)
        app.screen.refresh(layout=True)
        await pilot.pause(0.2)
        header = painted.text()[0]
        assert "drv alice · 0 watching · you olive (obs)" in header, header
        assert len(header) <= 80


async def test_the_countdown_gives_its_rows_to_the_checklist_on_a_short_terminal(tmp_path, lab):
    session = make_session(tmp_path, lab)
    app = make_app(session)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        pane = app.screen.query_one(CountdownPane)
        assert pane.compact and not app.screen.query_one("#rto-digits").display
        facts = str(app.screen.query_one("#rto-facts").render()).splitlines()
        assert facts[0] == "15:00 left" and facts[-1] == "from windows"
        assert app.screen.query_one("#checklist").size.height >= 13  # 12 with the large digits
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert not pane.compact and app.screen.query_one("#rto-digits").display


async def test_every_contact_is_reachable_by_scrolling_also_for_a_watcher(tmp_path, lab):
    session = make_session(tmp_path, lab, actor=OLIVE, keymap=CONTACTS)
    app = make_app(session)
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        contacts = app.screen.query_one(ContactsPane)
        assert "Escalation 8" in contacts.text()
        assert contacts.border_subtitle == "↓ 6 more"  # 11 lines, 5 fit: more than fits: it scrolls, and says so
        await pilot.press("right_square_bracket", "right_square_bracket", "right_square_bracket")  # ] a watcher's too
        await pilot.pause()
        assert contacts.border_subtitle == "↑ 6"
        painted = PaintedScreen(app, SMALL)
        contacts.refresh()
        await pilot.pause(0.2)
        assert any("Escalation 8" in row and "+49-30-555-0008" in row for row in painted.text())
        assert any("T+0 slack" in row for row in painted.text()) is False  # scrolled past the comms
        await pilot._post_mouse_events([events.MouseScrollUp], contacts, offset=(3, 2))  # the wheel too
        await pilot.pause()
        assert contacts.border_subtitle == "↑ 5 · ↓ 1 more"
