"""Web viewers in the incident's presence: each browser is one watcher, journaled once.

A browser is known by a random cookie (a configured viewer by their name as well): it joins the
engine's presence (``presence.joined`` with ``via = web``) when it first opens the page, stays
while its event stream is open, and leaves ``linger`` seconds after its last stream closed or its
last reload (a browser without JavaScript reloads every ``refresh`` seconds). So reloads and
reconnects do not write a record each, and the header's *N watching* counts each browser once.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field

from console.engine import Actor, Engine

COOKIE = "warroom_viewer"
MAX_NUMBERED = 10_000
"""Browsers remembered by number; past it only the present ones keep theirs."""


def new_browser_id() -> str:
    return secrets.token_hex(16)


def valid_browser_id(value: str | None) -> bool:
    return bool(value) and len(value) == 32 and all(c in "0123456789abcdef" for c in value)


@dataclass
class _Present:
    actor: Actor
    connection: str
    streams: int = 0
    leave: asyncio.TimerHandle | None = field(default=None, repr=False)


class WebPresence:
    """Joins and leaves the engine's presence for browsers (bounded: ``limit`` at once)."""

    def __init__(self, engine: Engine, *, linger: float, limit: int) -> None:
        self.engine = engine
        self.linger = linger
        self.limit = limit
        self._present: dict[str, _Present] = {}
        self._numbers: dict[str, int] = {}
        self._streams = 0

    @property
    def browsers(self) -> int:
        return len(self._present)

    @property
    def streams(self) -> int:
        return self._streams

    def full(self, browser: str) -> bool:
        """Another browser could not be counted now (a known one always can)."""
        return browser not in self._present and len(self._present) >= self.limit

    def seen(self, browser: str, viewer: str | None) -> bool:
        """A page load: the browser is present until ``linger`` after this (or its streams end).
        True when it joined just now (the page it is sent counts it already)."""
        joined = browser not in self._present
        present = self._arrive(browser, viewer)
        if present.streams == 0:
            self._leave_later(browser, present)
        return joined

    def stream_opened(self, browser: str, viewer: str | None) -> None:
        present = self._arrive(browser, viewer)
        present.streams += 1
        self._streams += 1
        if present.leave is not None:
            present.leave.cancel()
            present.leave = None

    def stream_closed(self, browser: str) -> None:
        present = self._present.get(browser)
        if present is None:
            return
        present.streams -= 1
        self._streams -= 1
        if present.streams == 0:
            self._leave_later(browser, present)

    def close(self) -> None:
        """Everyone leaves now (the server stops before the engine does)."""
        for browser in list(self._present):
            self._leave(browser)

    def _arrive(self, browser: str, viewer: str | None) -> _Present:
        present = self._present.get(browser)
        if present is None:
            actor = Actor(viewer or self._name(browser), "observer")
            present = _Present(actor, self.engine.join(actor, "web"))
            self._present[browser] = present
        return present

    def _name(self, browser: str) -> str:
        """``web-N``: a token holder's browser, numbered in order of arrival while this server runs."""
        if len(self._numbers) >= MAX_NUMBERED and browser not in self._numbers:
            self._numbers = {b: n for b, n in self._numbers.items() if b in self._present}
        number = self._numbers.setdefault(browser, max(self._numbers.values(), default=0) + 1)
        return f"web-{number}"

    def _leave_later(self, browser: str, present: _Present) -> None:
        if present.leave is not None:
            present.leave.cancel()
        present.leave = asyncio.get_running_loop().call_later(self.linger, self._leave, browser)

    def _leave(self, browser: str) -> None:
        present = self._present.pop(browser, None)
        if present is None:
            return
        if present.leave is not None:
            present.leave.cancel()
        self._streams -= present.streams
        if self.engine.state.status != "new":
            self.engine.leave(present.actor, present.connection)
