"""What the engine publishes besides journal records: transient output and progress of a step."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Output:
    """A transient batch of output lines; the spool file is the durable record."""

    step: str
    attempt: int
    host: str
    lines: list[str]


@dataclass(frozen=True)
class Progress:
    """A transient progress report from a running step (bytes restored, attempts made)."""

    step: str
    attempt: int
    host: str
    done: float
    total: float | None
    unit: str
    label: str


Subscriber = Callable[[Any], None]
