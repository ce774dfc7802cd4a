"""What a team writes is shown as written, and a destructive step's confirmation shows all of it.

The runbook's texts (titles, notes, checks, comms, contacts, severities, triggers) hold ``[...]``
that Rich or Textual markup would eat; the help screen's own title names ``[keymap]``. Every
screen that shows them is checked on the terminal's text, as the user sees it.
"""

from __future__ import annotations

import pytest
from test_ui import select, settle
from textual.containers import VerticalScroll
from textual.fuzzy import Matcher
from textual.widgets import Input
from ui_support import make_app
from ui_text_support import LONG_COMMAND, LONG_NOTE, brackets_session, flat, screen_text

from console.model.score import render_score
from screens.app import WarroomApp
from screens.commands import _highlight
from screens.modals.choice import ChoiceModal
from screens.modals.confirm import ConfirmStepModal
from screens.modals.help import HelpModal
from screens.modals.open_incident import OpenIncidentModal
from screens.modals.score import ScoreModal

pytestmark = pytest.mark.sshd
SIZE = (160, 44)


def shows(app, *texts: str) -> None:
    seen = flat(screen_text(app))
    for text in texts:
        assert text in seen, f"{text!r} is not on the screen:\n{screen_text(app)}"


async def test_runbook_texts_with_brackets_are_shown_as_written(tmp_path, lab):
    session = brackets_session(tmp_path, lab)
    async with make_app(session).run_test(size=SIZE) as pilot:
        await pilot.pause()
        pilot.app.screen._clock_tick()
        await pilot.pause()
        shows(
            pilot.app,
            "[bold]Shop[/bold] rollback",
            "P0 Critical [red]now[/red]",
            "1 Main [phase]",
            "Verify [b]logins[/b]",
            "[ ] [x] users can log in",
            "Restore the [database] from the backup",
            "slack → [ops]: [urgent] Slack alert",
            "[On-Call] Engineer Dana [SRE] · +49-[0]-123",
        )

        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(pilot.app.screen, HelpModal)
        shows(pilot.app, "Keys (remap with [keymap] in the config)")
        await pilot.press("escape")

        await pilot.press("c")
        await pilot.pause()
        assert isinstance(pilot.app.screen, ChoiceModal)
        shows(pilot.app, "[ops]: [urgent] Slack alert [send via slack]", "[record as sent another way]")
        await pilot.press("escape")

        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Restore")
        await pilot.pause(0.5)
        shows(pilot.app, "Run step: Restore the [database] from the backup taken before the deploy (restore)")
        await pilot.press("escape")
        await pilot.pause()

        select(pilot.app, "verify", "login")
        await pilot.press("p")
        await pilot.press(*"checked [ok]")
        await pilot.press("enter")
        await pilot.pause()
        assert session.state.ticks[("verify", "login")].note == "checked [ok]"
        shows(pilot.app, "[✓] [x] users can log in", "“checked [ok]”")

        pilot.app.push_screen(ScoreModal(render_score(session.state)))
        await pilot.pause()
        shows(pilot.app, "Phase 1 Main [phase]")


async def test_the_open_incident_dialog_shows_triggers_and_severities_as_written(tmp_path, lab):
    session = brackets_session(tmp_path, lab)

    async def never(opening):  # the dialog is only looked at
        raise AssertionError("not opened")

    app = WarroomApp(plan=session.plan, opener=never)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, OpenIncidentModal)
        shows(app, "Open incident · [bold]Shop[/bold] rollback 1.0.0", "[P0] data loss", "Service [api] down")
        shows(app, "P0 Critical [red]now[/red]")
    await session.aclose()


async def _body_text(pilot, modal: ConfirmStepModal) -> str:
    """Every line of the dialog's scrolling part, read off the screen a viewport at a time."""
    body = modal.query_one("#confirm-body", VerticalScroll)
    region = body.scrollable_content_region
    lines: dict[int, str] = {}
    while True:
        rows = screen_text(pilot.app).splitlines()
        for row in range(region.height):
            lines[round(body.scroll_y) + row] = rows[region.y + row][region.x : region.right]
        if body.scroll_y >= body.max_scroll_y:
            return "\n".join(lines[n] for n in sorted(lines))
        body.scroll_to(y=body.scroll_y + region.height, animate=False, immediate=True)
        await pilot.pause()


def _joined(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
async def test_the_destructive_confirmation_shows_every_word_and_keeps_the_answer_in_view(tmp_path, lab, size):
    session = brackets_session(tmp_path, lab, hosts=("app1", "app2", "app3"))
    async with make_app(session).run_test(size=size) as pilot:
        select(pilot.app, "restore")
        await pilot.press("r")
        await pilot.pause(0.5)
        modal = pilot.app.screen
        assert isinstance(modal, ConfirmStepModal)
        answer = "Type restore to run it on app1, app2, app3:"
        shows(pilot.app, answer, "Run", "PgUp/PgDn scroll what runs")
        body = modal.query_one("#confirm-body", VerticalScroll)
        assert body.max_scroll_y > 0 or size != (80, 24)  # at 80x24 it does not fit: it scrolls

        if body.max_scroll_y:
            await pilot.press("pagedown")  # the typed word keeps the focus; the page still turns
            await pilot.pause()
            assert body.scroll_y > 0 and isinstance(pilot.app.focused, Input)
            shows(pilot.app, answer, "Run")
            await pilot.press("pageup")
            await pilot.pause()
            assert body.scroll_y == 0

        text = _joined(await _body_text(pilot, modal))
        assert _joined("⚠ Restore the [database] from the backup taken before the deploy (restore)") in text
        for host in ("app1", "app2", "app3"):
            assert _joined(f"{host}$ {LONG_COMMAND} && echo second [step] command") in text
        assert _joined(LONG_NOTE) in text

        await pilot.press(*"restore", "enter")
        assert await settle(pilot, session, "restore") == "succeeded"


def test_the_palette_highlights_the_letters_typed_in_a_title_with_brackets():
    name = "Run step: Restore the [database] (restore)"
    shown = _highlight(Matcher("datab"), name)
    assert shown.plain == name
    marked = "".join(name[span.start : span.end] for span in shown.spans)
    assert marked == "datab"
