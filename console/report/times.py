"""Moments in a report: ISO time from the journal, and T+ offsets from when the incident opened."""

from __future__ import annotations

from datetime import datetime

from console.model.clock import parse_iso
from console.model.score import clock


class Moments:
    """Offsets from T+0, the moment the incident was opened (as the game-day score counts).

    An incident over within a minute (a drill on the sandbox) is shown in tenths of a second.
    """

    def __init__(self, opened_at: str, last_at: str) -> None:
        self.t0: datetime = parse_iso(opened_at)
        self.tenths = self.seconds(last_at) < 60

    def seconds(self, ts: str) -> float:
        return round((parse_iso(ts) - self.t0).total_seconds(), 3)

    def t(self, ts: str) -> str:
        return self.offset(self.seconds(ts))

    def offset(self, seconds: float) -> str:
        return tplus(seconds, tenths=self.tenths)


def tplus(seconds: float, *, tenths: bool = False) -> str:
    """``T+M:SS`` (``T-M:SS`` before T+0)."""
    sign = "-" if seconds < 0 else "+"
    return f"T{sign}{clock(abs(seconds), tenths=tenths)}"


def duration(seconds: float | None) -> str:
    """A duration for people: ``0.4 s``, ``42 s``, ``4:30`` (``1:02:03``)."""
    if seconds is None:
        return ""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    return clock(seconds)


def between(start: str, end: str) -> float:
    return round((parse_iso(end) - parse_iso(start)).total_seconds(), 3)
