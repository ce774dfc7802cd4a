"""Messages the engine's events become inside the UI (posted, never handled on the engine's stack)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message


@dataclass
class JournalEvent(Message):
    """A journaled record: state changed."""

    record: dict[str, Any]


@dataclass
class OutputBatch(Message):
    """Some lines of one host's output for one step attempt."""

    step: str
    attempt: int
    host: str
    lines: list[str]


class Tick(Message):
    """The clock moved: countdowns and comms due-times refresh. Floods coalesce."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, Tick)


@dataclass
class ProgressUpdate(Message):
    """A running step's progress on one host; a newer one replaces an unhandled older one."""

    step: str
    host: str
    done: float
    total: float | None
    unit: str
    label: str

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, ProgressUpdate) and (message.step, message.host) == (self.step, self.host)
