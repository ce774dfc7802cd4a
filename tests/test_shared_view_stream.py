"""A shared view's stream, against a real process on a real pty that paints as Textual does: it asks
whether the terminal brackets frames, brackets each one, and repaints whole on REPAINT_SIGNAL."""

from __future__ import annotations

import asyncio
import sys

import pytest

from console.host.ptychild import exec_on
from console.host.sharedview import CLEAR, FRAME_START, SYNC_REPLY, SharedViews, ViewKey, keypress

PAINTER = r"""
import os, signal, sys, time, tty
tty.setraw(0)
out = lambda b: os.write(1, b)
out(b"\x1b[?1049h\x1b[?1000h\x1b[?1006h\x1b[?25l")
out(b"\x1b[?2026$p")
reply = os.read(0, 64)
out(b"GOT " + reply.replace(b"\x1b", b"ESC") + b"\r\n")
frames = [0]
def paint(*_):
    frames[0] += 1
    out(b"\x1b[?2026h" + b"WHOLE-FRAME-%d" % frames[0] + b"\x1b[?2026l")
signal.signal(signal.SIGUSR2, paint)
paint()
out(b"\x1b[?1000l")
while True:
    time.sleep(0.05)
    out(b"\x1b[?2026hTICK\x1b[?2026l")
"""


class Viewer:
    def __init__(self) -> None:
        self.seen = bytearray()
        self.ended: int | None = None

    def show(self, data: bytes) -> None:
        self.seen += data

    def view_ended(self, code: int) -> None:
        self.ended = code


async def _until(predicate, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "never happened"
        await asyncio.sleep(0.02)


@pytest.mark.asyncio
async def test_a_joiner_gets_the_modes_a_clear_screen_and_whole_frames_from_a_frame_start():
    views = SharedViews(lambda key: lambda terminal: exec_on(terminal, [sys.executable, "-c", PAINTER], {}))
    key = ViewKey("xterm-256color", "", False, 80, 24)
    first = Viewer()
    view = views.join(key, first)
    await _until(lambda: b"TICK" in first.seen)
    assert b"GOT " + SYNC_REPLY.replace(b"\x1b", b"ESC") not in first.seen  # it joined before: from a frame start
    assert first.seen.startswith(b"\x1b[?1049h" + CLEAR)

    late = Viewer()
    assert views.join(key, late) is view and len(views) == 1  # same kind and size: the same console
    await _until(lambda: b"WHOLE-FRAME-" in late.seen)  # asked for a whole frame on joining
    whole = late.seen[late.seen.index(b"WHOLE-FRAME-") :].split(b"\x1b")[0]
    assert whole in first.seen  # everyone gets it (one stream)
    prologue = bytes(late.seen[: late.seen.index(FRAME_START)])
    assert prologue.startswith(b"\x1b[?1049h" + CLEAR)  # the alternate screen, cleared
    assert b"\x1b[?1006h" in prologue and b"\x1b[?25l" in prologue  # the modes set so far
    assert b"\x1b[?1000l" in prologue and b"\x1b[?1000h" not in prologue  # as last set
    assert b"2026" not in prologue  # frame brackets are not a mode to replay

    view.pause(late)  # a client that stopped reading: its frames are dropped, not kept
    await asyncio.sleep(0.3)
    held = len(late.seen)
    await asyncio.sleep(0.3)
    assert len(late.seen) == held
    view.resume(late)  # caught up: a whole frame again
    await _until(lambda: b"WHOLE-FRAME-" in late.seen[held:])

    other = Viewer()
    views.join(ViewKey("xterm-256color", "", False, 100, 30), other)
    assert len(views) == 2
    view.leave(first)
    view.leave(late)  # nobody left on the 80x24 view: its console ends
    await _until(lambda: len(views) == 1)
    await views.close()
    assert other.ended is not None


@pytest.mark.parametrize(
    ("data", "meaning"),
    [
        (b"q", "quit"),
        (b"\x03", "quit"),
        (b"r", "own"),
        (b"\x1b[B", "own"),  # an arrow key
        (b"\x1b[<0;10;5M", "own"),  # a click
        (b"\x1b[<64;10;5M", "own"),  # the wheel
        (b"\x1b[<35;10;5M\x1b[<35;11;5M", "none"),  # the mouse moving over the screen
        (b"\x1b[<0;10;5m", "none"),  # a button released
        (b"\x1b[I\x1b[O", "none"),  # focus in and out
    ],
)
def test_what_an_observers_input_means_to_a_shared_view(data, meaning):
    assert keypress(data) == meaning


SPLIT_PAINTER = r"""
import os, signal, sys, time, tty
tty.setraw(0)
out = lambda b: (os.write(1, b), time.sleep(0.05))
out(b"\x1b[?1049h\x1b[?20")  # the query cut between two reads of the pty
out(b"26$p")
reply = os.read(0, 64)
def paint(*_):
    out(b"\x1b[?20")  # and each frame's start
    out(b"26hWHOLE-FRAME\x1b[?2026l")
signal.signal(signal.SIGUSR2, paint)
while True:
    time.sleep(0.05)
    out(b"\x1b[?2026hTICK\x1b[?2026l")
"""


@pytest.mark.asyncio
async def test_sequences_cut_between_two_reads_are_still_found():
    views = SharedViews(lambda key: lambda terminal: exec_on(terminal, [sys.executable, "-c", SPLIT_PAINTER], {}))
    key = ViewKey("xterm-256color", "", False, 80, 24)
    first = Viewer()
    view = views.join(key, first)
    await _until(lambda: b"TICK" in first.seen)  # the query was answered: the painter got past its read
    late = Viewer()
    views.join(key, late)
    await _until(lambda: b"WHOLE-FRAME" in late.seen)
    assert late.seen.index(FRAME_START) < late.seen.index(b"WHOLE-FRAME")  # from the frame's whole start
    view.leave(first)
    view.leave(late)
    await views.close()
