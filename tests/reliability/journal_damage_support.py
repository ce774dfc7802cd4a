"""A small real journal for the damage tests: records of the shapes the engine writes, including a
control character (written as ``\\u001b``) and a float written with an exponent, the two places
where different bytes parse to the same value."""

from __future__ import annotations

from pathlib import Path

from console.model import events
from console.model.journal import Journal
from console.model.secrets import Redactor

SIZE = 4096


def build_journal(path: Path, size: int = SIZE) -> bytes:
    """Append records until the journal holds at least ``size`` bytes; returns its bytes."""
    journal = Journal.create(path, Redactor())
    ts = "2026-11-29T03:{:02d}:00.000Z"
    journal.append(events.SEAT_TAKEN, {"driver": "alice"}, actor="alice", role="driver", ts=ts.format(0))
    n = 0
    while path.stat().st_size < size:
        n += 1
        step = f"step-{n}"
        journal.append(
            events.STEP_STARTED,
            {"step": step, "attempt": 1, "hosts": ["h1"], "confirmed": False},
            actor="alice",
            role="driver",
            ts=ts.format(n % 60),
        )
        result = {"host": "h1", "status": "ok", "exit_code": 0, "duration": 1.5e-05 * n, "bytes": 12}
        journal.append(
            events.STEP_HOST_FINISHED,
            {"step": step, "attempt": 1, "host": "h1", "result": result},
            actor="alice",
            role="driver",
            ts=ts.format(n % 60),
        )
        journal.append(
            events.NOTE_ADDED,
            {"text": f"h1 printed \x1b[31mred\x1b[0m at {n}"},
            actor="alice",
            role="driver",
            ts=ts.format(n % 60),
        )
    journal.close()
    return path.read_bytes()


def record_starts(raw: bytes) -> list[int]:
    """The byte offset where each record starts."""
    starts, offset = [], 0
    for line in raw.splitlines(keepends=True):
        starts.append(offset)
        offset += len(line)
    return starts
