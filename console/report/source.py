"""Reading an incident directory for a report: the verified journal, and whether it is live.

Only the incident directory is read, so a copy of it on another machine gives the same report.
A corrupt journal raises :class:`console.model.errors.JournalCorrupt` naming the first bad record,
and so does one cut short of its seal (records missing from the end); a torn last record (a crash
mid-write) is tolerated and reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from console.model import events
from console.model.errors import IncidentError
from console.model.incidents import is_live
from console.model.journal import check
from console.model.seal import SealState

JOURNAL = "journal.jsonl"


@dataclass(frozen=True)
class IncidentSource:
    directory: Path
    records: list[dict[str, Any]]
    torn_bytes: int
    seal: SealState
    live: bool
    """Another process holds the incident's lock: a running step is running, not crashed."""


def read_incident(directory: Path) -> IncidentSource:
    path = directory / JOURNAL
    if path.is_symlink():  # a report reads the incident directory itself, never a file elsewhere
        raise IncidentError(f"{path}: is a symbolic link: not followed")
    checked = check(path, tolerate_torn_tail=True)
    records, tail = checked.records, checked.tail
    if not records or records[0].get("type") != events.INCIDENT_OPENED:
        raise IncidentError(f"{path}: record 1: the journal does not start with incident.opened")
    return IncidentSource(directory, records, len(tail), checked.seal, is_live(directory))
