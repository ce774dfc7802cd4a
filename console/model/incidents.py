"""Listing incidents with their status, read from each journal without taking its lock."""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

from console.model import rules
from console.model.errors import JournalError
from console.model.incident_dir import incidents_dir
from console.model.journal import check
from console.model.state import fold


@dataclass(frozen=True)
class IncidentSummary:
    id: str
    status: str
    severity: str
    runbook: str
    opened_at: str
    done: int
    total: int
    driver: str


def is_live(directory: Path) -> bool:
    """True when another process holds the incident's lock (it is being driven now).

    A shared, non-blocking probe that never creates the file; the engine's lock waits it out."""
    lock = directory / "lock"
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def list_incidents(root: Path) -> list[IncidentSummary]:
    base = incidents_dir(root)
    if not base.is_dir():
        return []
    found = []
    for directory in sorted(base.iterdir()):
        if not (directory / "journal.jsonl").is_file():
            continue
        try:
            checked = check(directory / "journal.jsonl", tolerate_torn_tail=True)
        except JournalError as exc:
            found.append(IncidentSummary(directory.name, f"corrupt ({exc})", "", "", "", 0, 0, ""))
            continue
        records, tail = checked.records, checked.tail
        state = fold(records)
        if state.plan is None:
            continue
        status = state.status
        if status == "open":
            if is_live(directory):
                status = "open (live)"
            elif state.running or tail:
                status = "crashed (resume with --incident)"
        automated = [s for s in state.plan.ordered_steps() if s.automated]
        done = sum(1 for s in automated if rules.settled(state.steps[s.id].status))
        found.append(
            IncidentSummary(
                state.id,
                status,
                state.severity,
                f"{state.plan.runbook['id']} {state.plan.runbook['version']}",
                state.opened_at,
                done,
                len(automated),
                state.driver or "",
            )
        )
    return found
