"""Who drove and who watched: the header's count and the report's Drove / Watched agree.

"Watching" is every attached client but the driver's own (``console.model.rules.watching``): a
driver-eligible user who does not hold the seat watches too. Only who held the seat drove: the
one who opened the incident (``warroom serve`` run as root) did not, unless they took the seat.
"""

from __future__ import annotations

from conftest import ALICE, OLIVE
from textual.app import App, ComposeResult

from console.engine import Actor
from console.host.session import LocalSession
from console.report import build_report, render
from screens.panes.header import IncidentHeader

DANA = Actor("dana", "driver")
ERIN = Actor("erin", "observer")


class HeaderApp(App[None]):
    def __init__(self, session: LocalSession) -> None:
        super().__init__()
        self.session = session

    def compose(self) -> ComposeResult:
        yield IncidentHeader(self.session, id="header")


async def _header(session: LocalSession) -> str:
    async with HeaderApp(session).run_test(size=(160, 3)) as pilot:
        await pilot.pause()
        return str(pilot.app.query_one(IncidentHeader).render())


async def test_three_attached_clients_without_a_driver_are_three_watching(engine):
    for actor in (DANA, OLIVE, ERIN):
        engine.join(actor, "ssh")
    session = LocalSession(engine, ALICE)  # alice opened the incident; nobody holds the seat
    assert session.watchers == 3
    assert "driver: nobody · 3 watching · you: alice (not driving)" in await _header(session)


async def test_the_drivers_own_clients_do_not_watch_and_the_rest_do(engine):
    engine.join(DANA, "ssh")
    engine.join(OLIVE, "ssh")
    engine.join(ERIN, "watch")
    engine.take_seat(DANA)
    engine.join(Actor("dana", "observer"), "watch")  # the driver's second monitor
    session = LocalSession(engine, DANA)
    assert session.watchers == 2
    assert "driver: dana (you) · 2 watching" in await _header(session)


async def test_only_who_held_the_seat_drove_and_watched_is_who_the_header_counted(engine):
    dana = engine.join(DANA, "ssh")  # driver-eligible, watching until she takes the seat
    olive = engine.join(OLIVE, "ssh")
    engine.take_seat(DANA)
    engine.add_note(DANA, "dana drives")
    engine.leave(OLIVE, olive)
    engine.close(DANA, "resolved", "rolled back")
    engine.leave(DANA, dana)
    report = build_report(engine.directory)
    assert report["times"]["opened_by"] == "alice"
    assert report["people"]["drivers"] == ["dana"]  # alice opened the incident, never drove
    assert report["people"]["observers"] == ["dana", "olive"]
    markdown = render(report, "md")
    assert "| Drove | dana |" in markdown and "| Watched | dana, olive |" in markdown


async def test_nobody_drove_when_nobody_took_the_seat(engine):
    engine.join(OLIVE, "watch")
    report = build_report(engine.directory)
    assert report["people"]["drivers"] == [] and report["people"]["observers"] == ["olive"]
    assert "| Drove | nobody took the driver seat |" in render(report, "md")
