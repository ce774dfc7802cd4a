"""Closing the incident from the console: the summary the report opens with is required."""

from __future__ import annotations

import pytest
from test_ui import type_text
from textual.widgets import Input
from ui_support import make_app, make_session
from ui_text_support import flat, screen_text

from screens.modals.choice import ChoiceModal

pytestmark = pytest.mark.sshd


@pytest.mark.parametrize("outcome", ["resolved", "aborted"])
async def test_enter_without_a_summary_does_not_close_and_asks_for_it(tmp_path, lab, outcome):
    session = make_session(tmp_path, lab)
    async with make_app(session).run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+e")
        await pilot.pause()
        modal = pilot.app.screen
        assert isinstance(modal, ChoiceModal)
        assert "Summary (required)" in flat(screen_text(pilot.app))
        if outcome == "aborted":
            await pilot.press("down")
        await pilot.press("enter")  # picks the outcome: the summary is next
        assert pilot.app.focused is modal.query_one(Input)
        await pilot.press("enter")  # nothing typed
        await pilot.pause()
        assert pilot.app.screen is modal and session.state.status == "open"
        assert "A summary is required to close the incident" in flat(screen_text(pilot.app))
        assert pilot.app.focused is modal.query_one(Input)
        await pilot.press("space", "enter")  # blanks are no summary either
        await pilot.pause()
        assert pilot.app.screen is modal and session.state.status == "open"
        await type_text(pilot, "rolled back to 3.0")
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert session.state.status == "closed"
        assert (session.state.outcome, session.state.summary) == (outcome, "rolled back to 3.0")
