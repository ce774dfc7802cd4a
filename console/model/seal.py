"""The journal's seal: the last record's seq and hash, kept beside the journal in ``journal.seal``.

The chain inside the journal catches an edited, deleted or reordered record, but not whole records
cut from the end: what is left is still a valid chain. So after each append (once the record is
fsynced) the seal is replaced atomically; a journal shorter than its seal has lost records and is
named, by ``warroom journal verify``, the incident list, the report and resume alike.

A crash between an append and the seal's update leaves the journal one record past its seal: that
is expected, and the next open brings the seal up to date. A reader of a live incident reads the
seal before the journal, so it may find the journal several records past it, never behind.

The seal lives in the incident directory: it catches a truncated copy, an older journal restored
over a newer one, a careless edit. Whoever can write the directory can rewrite the seal too; the
report's last hash, shared when the incident closes, is the copy kept outside.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from console.model import events
from console.model.errors import JournalCorrupt, SealMismatch

GENESIS = "0" * 64
"""The ``prev`` of the first record, and the hash a seal of an empty journal holds."""


@dataclass(frozen=True)
class Seal:
    seq: int
    hash: str


DAMAGED = Seal(-1, "")
"""What :func:`read` returns for a seal file that is no seal (empty after a power cut)."""


@dataclass(frozen=True)
class SealState:
    """How a journal stands against its seal (after :func:`check` found nothing cut)."""

    seal: Seal | None
    """None: no ``journal.seal`` (a journal from before seals, or the file was removed)."""
    records: int
    closed: bool
    """The journal ends with its closing record (written when a closed incident's engine stops)."""
    damaged: bool = False
    """``journal.seal`` is there but holds no seal: checked like a journal without one."""

    @property
    def behind(self) -> int:
        """Records appended after the seal was last written (a crash window; never a loss)."""
        return self.records - self.seal.seq if self.seal else 0

    @property
    def status(self) -> str:
        if self.seal is None:
            return "unsealed"
        if self.behind:
            return "behind"
        return "sealed" if self.closed else "matches"

    def describe(self) -> str:
        if self.damaged:
            return (
                "journal.seal is damaged (a power cut while it was replaced?): records cut from the end "
                "cannot be detected until a resume writes it again"
            )
        if self.seal is None:
            return "not sealed (no journal.seal): records cut from the end cannot be detected"
        if self.behind == 1:
            return (
                f"one record past journal.seal (seq {self.seal.seq}): written just before a crash, "
                "resume brings the seal up to date"
            )
        if self.behind:
            return (
                f"{self.behind} records past journal.seal (seq {self.seal.seq}): appended while it was read, "
                "or the seal is an older copy"
            )
        closing = ", closed with its closing record" if self.closed else ""
        return f"sealed: journal.seal matches seq {self.seal.seq}{closing}"


def seal_path(journal: Path) -> Path:
    return journal.with_suffix(".seal")


def read(journal: Path) -> Seal | None:
    """The seal of ``journal``, or None when it has none."""
    path = seal_path(journal)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SealMismatch(str(path), f"cannot read the seal: {exc.strerror}") from None
    try:
        data = json.loads(raw)
        seal = Seal(data["seq"], data["hash"])
        if not isinstance(seal.seq, int) or seal.seq < 0 or not isinstance(seal.hash, str) or len(seal.hash) != 64:
            raise ValueError(seal)
    except (ValueError, KeyError, TypeError):
        return DAMAGED
    return seal


def check(journal: Path, seal: Seal | None, records: list[dict[str, Any]], tail: bytes) -> SealState:
    """Compare verified ``records`` with ``seal`` (read before them); raise if records are missing."""
    name = str(journal)
    count = len(records)
    closed = bool(records) and records[-1].get("type") == events.JOURNAL_CLOSED
    if seal is None or seal is DAMAGED:
        return SealState(None, count, closed, damaged=seal is DAMAGED)
    if seal.seq > count:
        if tail and seal.seq == count + 1:
            raise JournalCorrupt(
                name,
                count + 1,
                f"sealed in {seal_path(journal).name}, but cut off mid-record ({len(tail)} bytes of it left)",
            )
        cut = seal.seq - count
        raise SealMismatch(
            name,
            f"{cut} record{'s' if cut > 1 else ''} cut from the end: last known hash {seal.hash} at seq {seal.seq}, "
            f"the journal ends at seq {count}",
            record=count + 1,
        )
    sealed = records[seal.seq - 1]["hash"] if seal.seq else GENESIS
    if sealed != seal.hash:
        raise JournalCorrupt(
            name,
            seal.seq,
            f"does not match {seal_path(journal).name} (hash {seal.hash[:16]}…): the journal was rewritten",
        )
    return SealState(seal, count, closed)


def write(journal: Path, seal: Seal) -> None:
    """Replace the seal atomically: a temporary file renamed over it.

    Not fsynced, on purpose: the record it names was fsynced before, so a power cut can only leave
    the seal behind the journal (tolerated) or, on some file systems, empty (reported as damaged,
    and rewritten by the next resume), never ahead of it. Raises :class:`OSError` (a full disk:
    the caller stops appending)."""
    path = seal_path(journal)
    tmp = path.with_name(f".{path.name}.tmp")
    body = json.dumps({"seq": seal.seq, "hash": seal.hash}, sort_keys=True).encode()
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            if os.write(fd, body) != len(body):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        finally:
            os.close(fd)
        tmp.replace(path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
