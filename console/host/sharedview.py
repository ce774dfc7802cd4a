"""One console rendered once for every observer on the same kind of terminal: a shared view.

Fifty people watching a war room look at the same screen. A console per SSH session costs a
process, its memory and every repaint fifty times over; a shared view renders once per terminal
kind and size, and the SSH server copies its frames to every observer of that kind and size. An
observer who presses a key gets a console of their own (their scrolling, their help screen, their
request for the seat must not move everyone's screen); one who only watches costs a copy.

Frames: the server answers the console's synchronized-output query itself, so each frame arrives
bracketed (``CSI ? 2026 h`` ... ``CSI ? 2026 l``). A joining observer is sent the terminal modes
set so far, a cleared screen and the stream from the next frame start on; the console is asked
(:data:`REPAINT_SIGNAL`) to repaint whole, so that next frame shows everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from console.host.ptychild import Process, PtyChild

log = logging.getLogger("warroom.sharedview")

REPAINT_SIGNAL = signal.SIGUSR2
"""Asks a console for a whole frame (``screens.app`` repaints on it); ignored until it is caught."""
FRAME_START = b"\x1b[?2026h"
SYNC_QUERY = b"\x1b[?2026$p"
SYNC_REPLY = b"\x1b[?2026;2$y"  # DECRPM: supported, currently off
MODE = re.compile(rb"\x1b\[\?([0-9;]+)([hl])")
ALT_SCREEN = b"1049"
UNTRACKED = frozenset({b"2026"})  # frame brackets, not a state a joiner needs
CLEAR = b"\x1b[H\x1b[2J"
REPAINT_DELAY = 0.05  # joins in one burst share one whole frame
REPAINT_RETRY = 0.1  # a console still starting does not catch the signal yet
CARRY = len(SYNC_QUERY) - 1  # bytes of one read kept to find a sequence cut by the next
LIVE_ANYWAY = 1.0  # a console that never brackets its frames: show its stream after this long
MOUSE = re.compile(rb"\x1b\[<(\d+);\d+;\d+([Mm])")
FOCUS = re.compile(rb"\x1b\[[IO]")
QUIT_KEYS = frozenset({b"q", b"\x03", b"\x11"})  # q, ctrl+c, ctrl+q


@dataclass(frozen=True)
class ViewKey:
    """What makes two observers' screens byte-identical: the terminal's kind, colours and size."""

    term: str
    colour: str
    no_color: bool
    cols: int
    rows: int


class Viewer(Protocol):
    """An observer's channel, as a shared view sees it."""

    def show(self, data: bytes) -> None: ...

    def view_ended(self, code: int) -> None: ...


def keypress(data: bytes) -> str:
    """What an observer's input means to a shared view: ``quit``, ``own`` (they want to act: a key,
    a click, the wheel) or ``none`` (mouse motion, button releases, focus reports)."""
    acted = any(m[2] == b"M" and not int(m[1]) & 32 for m in MOUSE.finditer(data))
    rest = FOCUS.sub(b"", MOUSE.sub(b"", data))
    if rest in QUIT_KEYS and not acted:
        return "quit"
    return "own" if rest or acted else "none"


def catches(pid: int, sig: signal.Signals) -> bool:
    """Whether the process has a handler for ``sig`` yet (``SigCgt`` in ``/proc/PID/status``)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except (OSError, ValueError):  # gone, or no /proc: not ready to be asked
        return False
    caught = next((line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), "0")
    return bool(int(caught, 16) >> (sig - 1) & 1)


@dataclass
class _Watch:
    asked: bool = False
    """A whole frame was asked for since this viewer joined: the next frame start is one."""
    since: float = field(default_factory=time.monotonic)
    live: bool = False
    paused: bool = False
    stale: bool = False


class SharedView:
    """One console on a pty of its own; its screen goes to every joined :class:`Viewer`."""

    def __init__(
        self,
        key: ViewKey,
        spawn: Callable[[int], Awaitable[Process]],
        on_end: Callable[[SharedView], None],
    ) -> None:
        self.key = key
        self.child = PtyChild(self._output, (key.cols, key.rows, 0, 0))
        self.viewers: dict[Viewer, _Watch] = {}
        self.modes: dict[bytes, bytes] = {}
        self._spawn = spawn
        self._on_end = on_end
        self._answered = False
        self._carry = b""
        self._painted = False
        self._repaint: asyncio.TimerHandle | None = None
        self.closing = False
        """No viewer left: the console is going, a new joiner gets a new one."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        code = 1
        try:
            await self.child.start(self._spawn)
            code = await self.child.wait()
        except OSError as exc:
            log.warning("cannot start a shared view: %s", exc)
        finally:
            if self._repaint is not None:
                self._repaint.cancel()
            await asyncio.shield(self.child.stop())
            viewers, self.viewers = list(self.viewers), {}
            self._on_end(self)
            for viewer in viewers:
                viewer.view_ended(code)

    # ----- viewers --------------------------------------------------------------------------------
    def join(self, viewer: Viewer) -> None:
        self.viewers[viewer] = _Watch(asked=not self._painted)  # a console's first frame is whole
        self.request_repaint()

    def leave(self, viewer: Viewer) -> None:
        self.viewers.pop(viewer, None)
        if not self.viewers:
            self._stop()  # nobody watches this size any more: its console goes

    def pause(self, viewer: Viewer) -> None:
        """The viewer's client is not reading: its frames are dropped, not buffered."""
        if viewer in self.viewers:
            self.viewers[viewer].paused = True

    def resume(self, viewer: Viewer) -> None:
        """Caught up: after dropped frames it starts again from a whole one."""
        watch = self.viewers.get(viewer)
        if watch is None:
            return
        watch.paused = False
        if watch.stale:
            self.viewers[viewer] = _Watch(asked=not self._painted)
            self.request_repaint()

    def _stop(self) -> None:
        """Cancel once: a second cancel would cut short the stopping of the console."""
        if not self.closing:
            self.closing = True
            self._task.cancel()

    async def close(self) -> None:
        self._stop()
        await asyncio.gather(self._task, return_exceptions=True)

    # ----- the console's screen -------------------------------------------------------------------
    def _output(self, data: bytes) -> None:
        seen = self._carry + data  # a sequence may be cut between two reads of the pty
        self._carry = data[-CARRY:]
        if not self._answered and SYNC_QUERY in seen:
            self._answered = True
            self.child.write(SYNC_REPLY)
        start = seen.find(FRAME_START, max(0, len(seen) - len(data) - len(FRAME_START) + 1))
        self._track(seen if start < 0 else seen[:start])
        now = time.monotonic()
        for viewer, watch in self.viewers.items():
            if watch.live:
                if watch.paused:
                    watch.stale = True
                else:
                    viewer.show(data)
            elif watch.paused:
                continue
            elif start >= 0 and watch.asked:
                watch.live = True
                viewer.show(self._prologue() + seen[start:])
            elif now - watch.since > LIVE_ANYWAY:  # frames not bracketed: a whole one is asked for again
                watch.live = True
                viewer.show(self._prologue() + data)
                self.request_repaint()
        if start >= 0:
            self._painted = True
            self._track(seen[start:])

    def _track(self, data: bytes) -> None:
        for match in MODE.finditer(data):
            for number in match[1].split(b";"):
                if number not in UNTRACKED:
                    self.modes.pop(number, None)  # re-inserted last: replayed in the order last set
                    self.modes[number] = match[2]

    def _prologue(self) -> bytes:
        """The terminal a joiner needs before a whole frame: the console's modes and a clear screen."""
        alt = b"\x1b[?1049h" if self.modes.get(ALT_SCREEN) == b"h" else b""
        rest = b"".join(b"\x1b[?" + number + value for number, value in self.modes.items() if number != ALT_SCREEN)
        return alt + CLEAR + rest

    def request_repaint(self) -> None:
        if self._repaint is None:
            self._repaint = asyncio.get_running_loop().call_later(REPAINT_DELAY, self._send_repaint)

    def _send_repaint(self) -> None:
        self._repaint = None
        proc = self.child.proc

        if proc is not None and proc.returncode is None and catches(proc.pid, REPAINT_SIGNAL):
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, REPAINT_SIGNAL)
            for watch in self.viewers.values():
                watch.asked = True
        elif any(not watch.live for watch in self.viewers.values()):
            self._repaint = asyncio.get_running_loop().call_later(REPAINT_RETRY, self._send_repaint)


class SharedViews:
    """The shared views of one SSH server, one per :class:`ViewKey` with someone watching."""

    def __init__(self, spawn_for: Callable[[ViewKey], Callable[[int], Awaitable[Process]]]) -> None:
        self._spawn_for = spawn_for
        self._views: dict[ViewKey, SharedView] = {}

    def __len__(self) -> int:
        return len(self._views)

    def join(self, key: ViewKey, viewer: Viewer) -> SharedView:
        view = self._views.get(key)
        if view is None or view.closing:
            view = self._views[key] = SharedView(key, self._spawn_for(key), self._ended)
        view.join(viewer)
        return view

    def _ended(self, view: SharedView) -> None:
        if self._views.get(view.key) is view:
            del self._views[view.key]

    async def close(self) -> None:
        await asyncio.gather(*(view.close() for view in list(self._views.values())), return_exceptions=True)


__all__ = ["REPAINT_SIGNAL", "SharedView", "SharedViews", "ViewKey", "Viewer", "catches", "keypress"]
