"""SVG snapshots of the war room with a frozen clock at three terminal sizes.

Update after an intended change with ``scripts/test tests/test_ui_snapshots.py --snapshot-update``
and look at the diff report before committing.
"""

from __future__ import annotations

import pytest
from ui_support import OLIVE, make_app, make_session

pytestmark = pytest.mark.sshd


def populate(session) -> None:
    """A mid-incident state reached through engine commands only (no step output: no timings)."""
    engine, me = session.engine, session.actor
    engine.tick(me, "notify", "admins", "pass", "paged the admins")
    engine.tick(me, "notify", "status", "na", "no status page")
    engine.record_comms(me, "slack-ops", "posted in #ops")
    engine.skip_step(me, "slow", "queue drained by hand")
    engine.add_note(me, "db team joined the bridge")
    session.clock.advance(minutes=11, seconds=5)


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)], ids=["80x24", "120x40", "200x60"])
def test_main_screen(snap_compare, tmp_path, lab, size):
    session = make_session(tmp_path, lab)
    populate(session)

    async def run_before(pilot) -> None:
        await pilot.pause()
        pilot.app.screen._clock_tick()
        await pilot.pause()

    assert snap_compare(make_app(session), terminal_size=size, run_before=run_before)


def test_main_screen_rto_breached(snap_compare, tmp_path, lab):
    session = make_session(tmp_path, lab)
    session.clock.advance(minutes=16)
    session.engine.check_deadlines()

    async def run_before(pilot) -> None:
        await pilot.pause()

    assert snap_compare(make_app(session), terminal_size=(120, 40), run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_activity_pane(snap_compare, tmp_path, lab, size):
    """The shared timeline (v): a watcher joined and wrote a note, the driver's ticks, comms, skip, note."""
    session = make_session(tmp_path, lab)
    engine = session.engine
    engine.join(OLIVE, "ssh")
    populate(session)
    engine.add_note(OLIVE, "checkout shows 502s for me too")

    async def run_before(pilot) -> None:
        await pilot.pause()
        await pilot.press("v")
        await pilot.pause()
        pilot.app.screen._clock_tick()
        await pilot.pause()

    assert snap_compare(make_app(session), terminal_size=size, run_before=run_before)
