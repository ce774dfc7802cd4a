"""After a flood of output the pane shows the last line, without a resize (issue 12, "output pane").

The step prints a few hundred thousand lines from a real sshd host; the pane's log keeps the last
5,000 (``RING_LINES``). Once full, Textual's Log marked no visible row dirty on a write, so the
terminal kept a frame from the middle of the flood. What is checked is what the frames painted
(``painted_support``), not what the widget would render if asked.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from conftest import ssh_step, write_config, write_runbook
from painted_support import PaintedScreen
from textual.app import App, ComposeResult
from textual.widgets import Log
from ui_support import ALICE, OLIVE, START

from actions.registry import KINDS
from console.engine import Engine
from console.host.session import LocalSession
from console.model.clock import FrozenClock
from console.model.config import load_config
from console.model.plan import build_plan
from console.model.runbook import load_runbook
from screens.app import WarroomApp
from screens.panes.logs import RING_LINES, LogPane
from screens.panes.output_log import OutputLog

SIZE = (140, 44)
LINES = 300_000
LAST = f"flood-{LINES:06d}"
# fixed-width lines: no line is wider than one before it, so nothing else repaints the log
FLOOD = ssh_step("flood", f'seq -f "flood-%06.0f" 1 {LINES}', targets="h1", timeout=120)
PAINT_BOUND = 10.0  # seconds from the step's end: generous, this is no benchmark


def flood_session(tmp_path, lab, actor=ALICE) -> LocalSession:
    config = load_config(write_config(tmp_path / "config.toml", lab, ["h1"]))
    plan = build_plan(load_runbook(write_runbook(tmp_path / "rb.toml", FLOOD), KINDS), config)
    engine = Engine.open(
        tmp_path / "state", plan, ALICE, severity="P0", trigger="flood", clock=FrozenClock(START), config=config
    )
    engine.take_seat(ALICE)
    return LocalSession(engine, actor)


def painted_log(painted: PaintedScreen, log: Log) -> list[str]:
    rows = painted.text(log.scrollable_content_region)
    while rows and not rows[-1]:
        rows.pop()
    return rows


async def last_line_painted(painted: PaintedScreen, session: LocalSession, log: Log) -> float:
    """Seconds from the step's end until the pane's last painted row is the flood's last line."""
    deadline = time.monotonic() + 60
    ended: float | None = None
    while True:
        await asyncio.sleep(0.02)
        if ended is None and session.state.steps["flood"].status not in ("pending", "running"):
            ended = time.monotonic()
            assert session.state.steps["flood"].status == "succeeded"
        rows = painted_log(painted, log)
        if ended is not None and rows and rows[-1] == LAST:
            return time.monotonic() - ended
        now = time.monotonic()
        if now > deadline or (ended is not None and now - ended > PAINT_BOUND):
            raise AssertionError(
                f"after the flood the pane holds {log.lines[-1:]} but shows {rows[-3:]} ({painted.frames} frames)"
            )


@pytest.mark.sshd
async def test_the_drivers_pane_paints_the_last_line_of_a_flood(tmp_path, lab):
    session = flood_session(tmp_path, lab)
    app = WarroomApp(session=session)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        painted = PaintedScreen(app, SIZE)
        log = app.screen.query_one(LogPane).query_one(Log)
        await pilot.press("n")
        seconds = await last_line_painted(painted, session, log)
        print(f"\ndriver: {LINES:,} lines, last painted {seconds * 1000:.0f} ms after the step ended")
        assert log.lines[-1] == LAST and len(log.lines) == RING_LINES
        rows = painted_log(painted, log)
        assert rows[-2] == f"flood-{LINES - 1:06d}"  # the rows above moved up with it


@pytest.mark.sshd
async def test_an_observers_pane_paints_the_last_line_of_a_flood(tmp_path, lab):
    session = flood_session(tmp_path, lab, OLIVE)
    app = WarroomApp(session=session)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        painted = PaintedScreen(app, SIZE)
        log = app.screen.query_one(LogPane).query_one(Log)
        task = session.engine.start_step(ALICE, "flood")
        seconds = await last_line_painted(painted, session, log)
        await task
        print(f"\nobserver: {LINES:,} lines, last painted {seconds * 1000:.0f} ms after the step ended")


class _Full(App[None]):
    def compose(self) -> ComposeResult:
        yield OutputLog(max_lines=50)


@pytest.mark.parametrize("write", ["write_lines", "write"])
async def test_a_full_log_repaints_what_each_write_shifted(write):
    """Past its cap every write drops lines off the top: each frame must show the new bottom."""
    app = _Full()
    async with app.run_test(size=(40, 10)) as pilot:
        painted = PaintedScreen(app, (40, 10))
        log = app.query_one(OutputLog)
        for batch in range(12):
            lines = [f"line {batch}-{n}" for n in range(7)]
            if write == "write_lines":
                log.write_lines(lines)
            else:
                log.write("".join(f"{line}\n" for line in lines))
            await pilot.pause()
            rows = painted_log(painted, log)
            assert rows and rows[-1] == f"line {batch}-6", f"batch {batch}: shows {rows[-2:]}"
        assert len(log.lines) <= 51
