"""The page's live part, rendered once per change and handed to every open event stream.

The engine publishes each journal record to its subscribers right after the fsync; this turns a
burst of them into one render (at most every :data:`RECORD_GAP` seconds, presence changes and
output tails less often) whose bytes every stream writes as they are. A slow browser never queues
a backlog: it is handed the newest version when it is ready for more.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from console.engine import Engine
from console.engine.stream import Output
from console.host.web.page import PageRenderer
from console.host.web.view import incident_view
from console.model import events
from console.model.errors import WarroomError
from console.model.spool import tail_lines

log = logging.getLogger("warroom.web")

RECORD_GAP = 0.05
"""Seconds between renders while records arrive (a burst becomes one update, well within 1 s)."""
SETTLE = 0.02
"""A render waits this long after the record that asks for it: the driver's own reply and screen
go out first, and a command's burst of records (started, host finished, finished) is one update."""
PRESENCE_GAP = 0.5
"""Someone joining or leaving changes a count only: rendered at most twice a second."""
OUTPUT_GAP = 1.0
"""Output tails (when shown) are refreshed at most once a second."""
PERIODIC = 30.0
"""Re-rendered this often even without a record: comms turn due and overdue with time."""
TAIL_BYTES = 64 * 1024

CLOSED = object()
"""What :meth:`LiveState.wait` returns once the server is stopping."""


class LiveState:
    def __init__(
        self,
        engine: Engine,
        renderer: PageRenderer,
        *,
        browsers: Callable[[], int],
        show_output: bool,
        output_lines: int,
    ) -> None:
        self.engine = engine
        self.renderer = renderer
        self._browsers = browsers
        self._show_output = show_output
        self._output_lines = output_lines
        self.report: dict[str, Any] | None = None
        """The closed incident's report summary (rows of the page's closed section)."""
        self.report_builder: Callable[[], Any] | None = None
        self.version = 0
        self.view: dict[str, Any] = {}
        self.live = ""
        self.payload = b""
        self._changed = asyncio.Event()
        self._flush_at: float | None = None
        self._last = float("-inf")
        """When the last render was (loop time)."""
        self._handle: asyncio.TimerHandle | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._report_task: asyncio.Task[None] | None = None
        self.closed = False

    def start(self) -> None:
        self.render()
        self._unsubscribe = self.engine.subscribe(self._on_event)
        self._ticker = asyncio.get_running_loop().create_task(self._periodic())

    def close(self) -> None:
        self.closed = True
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._handle is not None:
            self._handle.cancel()
        for task in (self._ticker, self._report_task):
            if task is not None:
                task.cancel()
        self._changed.set()

    async def wait(self, version: int, timeout: float) -> tuple[int, bytes] | object | None:
        """The newest version once it is newer than ``version``; None after ``timeout``; or CLOSED."""
        deadline = time.monotonic() + timeout
        while not self.closed and self.version == version:
            changed = self._changed
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                return None
        if self.closed:
            return CLOSED
        return self.version, self.payload

    # ----- rendering ------------------------------------------------------------------------------
    def _on_event(self, event: Any) -> None:
        if self.closed:
            return
        if isinstance(event, dict) and "seq" in event:
            self._schedule(PRESENCE_GAP if event.get("type") in events.PRESENCE else RECORD_GAP)
        elif isinstance(event, Output) and self._show_output:
            self._schedule(OUTPUT_GAP)

    def _schedule(self, gap: float) -> None:
        loop = asyncio.get_running_loop()
        at = max(loop.time() + SETTLE, self._last + gap)
        if self._flush_at is not None and self._flush_at <= at:
            return  # an earlier render is due and will include this change
        if self._handle is not None:
            self._handle.cancel()
        self._flush_at = at
        self._handle = loop.call_at(at, self._flush)

    def _flush(self) -> None:
        self._flush_at, self._handle = None, None
        if not self.closed:
            self.render()

    def render(self) -> None:
        """Render now and wake every stream."""
        state = self.engine.state
        tail = self._tail if self._show_output else None
        self.view = incident_view(state, self.engine.clock.now(), web_viewers=self._browsers(), output_tail=tail)
        self.live = self.renderer.live(self.view, self.report)
        self.payload = self.renderer.event(self.view, self.live)
        self.version += 1
        self._last = asyncio.get_running_loop().time()
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
        if state.status == "closed" and self.report is None and self._report_task is None and self.report_builder:
            self._report_task = asyncio.get_running_loop().create_task(self._build_report())

    async def _build_report(self) -> None:
        assert self.report_builder is not None
        try:
            self.report = await asyncio.to_thread(self.report_builder)
        except (WarroomError, OSError, KeyError, ValueError) as exc:  # the page says so; the incident goes on
            log.warning("status page: the report summary could not be built: %s", exc)
            self.report = {"rows": [("Report", f"could not be built: {exc}")]}
        if not self.closed:
            self.render()

    def _tail(self, step: str, attempt: int, host: str) -> list[str]:
        try:
            lines, _ = tail_lines(self.engine.output_path(step, attempt, host), TAIL_BYTES, self._output_lines)
        except OSError:
            return []
        return [self.engine.redactor.text(line) for line in lines]

    async def _periodic(self) -> None:
        while not self.closed:
            await asyncio.sleep(PERIODIC)
            self._schedule(RECORD_GAP)
