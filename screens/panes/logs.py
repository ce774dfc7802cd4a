"""Live output of the selected or running step, one host at a time, in a bounded buffer.

Lines arrive in batches from the engine; they are kept raw in a bounded ring per (step, attempt,
host) and written to the visible :class:`Log` in one ``write_lines`` call per refresh, never line by
line. Only what can be shown (at most a ring's worth per flush) is neutralised, in one regex pass:
during a million-line flood, work per line would starve key handling.
"""

from __future__ import annotations

import time
from collections import deque
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Log, Static

from console.host.session import Session
from console.model.sanitize import neutralise, neutralise_lines
from console.model.spool import tail_lines
from screens.panes.output_log import OutputLog

RING_LINES = 5000
FLUSH_SECONDS = 0.05

Key = tuple[str, int, str]


class LogPane(Vertical):
    BORDER_TITLE = "Output"

    def __init__(self, session: Session, **kwargs) -> None:
        super().__init__(**kwargs)
        self._session = session
        self._rings: dict[Key, deque[str]] = {}
        self._pending: deque[str] = deque(maxlen=RING_LINES)
        self._progress_start: dict[tuple[str, str], tuple[float, float]] = {}
        self.step: str | None = None
        self.attempt = 0
        self.host_index = 0

    def compose(self) -> ComposeResult:
        yield Static("", id="log-title")
        yield OutputLog(max_lines=RING_LINES, id="log", auto_scroll=True)

    def on_mount(self) -> None:
        self.border_subtitle = "v activity"
        self.set_interval(FLUSH_SECONDS, self._flush)

    @property
    def hosts(self) -> tuple[str, ...]:
        if self.step is None:
            return ()
        return self._session.plan.steps[self.step].hosts

    @property
    def host(self) -> str | None:
        hosts = self.hosts
        return hosts[self.host_index % len(hosts)] if hosts else None

    def show(self, step_id: str | None, *, force: bool = False) -> None:
        """Switch to a step's latest attempt (reloading from the ring or the spool file)."""
        attempt = self._attempt_of(step_id)
        if not force and step_id == self.step and attempt == self.attempt:
            return
        if step_id != self.step:
            self.host_index = 0
        self.step, self.attempt = step_id, attempt
        self._reload()

    def show_progress(self, update) -> None:
        """Bytes or items done of a total, with rate and ETA, in the pane's title line."""
        if update.step != self.step or update.host != self.host:
            return
        now = time.monotonic()
        first = self._progress_start.setdefault((update.step, update.host), (now, update.done))
        elapsed = max(now - first[0], 1e-6)
        rate = (update.done - first[1]) / elapsed
        text = f"{neutralise(update.label) or 'progress'}: {_amount(update.done, update.unit)}"
        if update.total:
            share = min(1.0, update.done / update.total)
            bar = "█" * int(share * 20) + "░" * (20 - int(share * 20))
            text += f" / {_amount(update.total, update.unit)} {bar} {share:.0%}"
            if rate > 0:
                eta = int((update.total - update.done) / rate)
                text += f" · ETA {eta // 60}:{eta % 60:02d}"
        if rate > 0:
            text += f" · {_amount(rate, update.unit)}/s"
        self.query_one("#log-title", Static).update(Text(f"{self._title()} · {text}"))

    def next_host(self) -> None:
        if len(self.hosts) > 1:
            self.host_index = (self.host_index + 1) % len(self.hosts)
            self._reload()

    def add(self, step: str, attempt: int, host: str, lines: list[str]) -> None:
        tail = lines[-RING_LINES:]
        ring = self._rings.setdefault((step, attempt, host), deque(maxlen=RING_LINES))
        ring.extend(tail)
        if step == self.step and host == self.host:
            if attempt != self.attempt:
                self.attempt = attempt
                self._reload()
                return
            self._pending.extend(tail)

    def spool_path(self) -> Path | None:
        if self.step is None or self.host is None or self.attempt == 0:
            return None
        return self._session.output_path(self.step, self.attempt, self.host)

    def _attempt_of(self, step_id: str | None) -> int:
        if step_id is None:
            return 0
        attempt = self._session.state.steps[step_id].attempt
        return attempt.number if attempt else 0

    def _flush(self) -> None:
        if self._pending:
            lines = neutralise_lines(self._pending)
            self._pending.clear()
            self.query_one(Log).write_lines(lines)

    def _title(self) -> str:
        if self.step is None:
            return "no step selected"
        hosts = self.hosts
        if not hosts:
            return f"{self.step}: manual step, no output"
        where = f"{self.host} ({self.host_index % len(hosts) + 1}/{len(hosts)})"
        tried = f" · attempt {self.attempt}" if self.attempt > 1 else ""
        return f"{self.step} · {where}{tried}" + ("" if self.attempt else " · not run yet")

    def _reload(self) -> None:
        self.query_one("#log-title", Static).update(Text(self._title()))
        log = self.query_one(Log)
        log.clear()
        self._pending.clear()
        key = (self.step or "", self.attempt, self.host or "")
        ring = self._rings.get(key)
        if ring:
            log.write_lines(neutralise_lines(ring))
        elif self.attempt:
            path = self.spool_path()
            if path is not None and path.exists():
                self._load_tail(path, key)

    @work(thread=True, exclusive=True, group="log-tail", exit_on_error=False)
    def _load_tail(self, path: Path, key: Key) -> None:
        """Read the end of a spool file (after a resume) without blocking the screen."""
        try:
            lines, _ = tail_lines(path, 512 * 1024, RING_LINES)
        except OSError as exc:
            lines = [f"(cannot read {path.name}: {exc.strerror})"]
        self.app.call_from_thread(self._fill, key, lines)

    def _fill(self, key: Key, lines: list[str]) -> None:
        self._rings[key] = deque(lines, maxlen=RING_LINES)
        if key == (self.step, self.attempt, self.host):
            self.query_one(Log).write_lines(neutralise_lines(lines))


def _amount(value: float, unit: str) -> str:
    if unit != "bytes":
        return f"{value:,.0f} {unit}"
    for suffix in ("B", "KB", "MB", "GB"):
        if value < 1024 or suffix == "GB":
            return f"{value:,.1f} {suffix}" if suffix != "B" else f"{value:,.0f} B"
        value /= 1024
    return f"{value:,.1f} GB"
