"""The incident journal: append-only JSONL, every record checksummed and chained, fsynced.

Each line is one record ``{seq, ts, type, actor, role, data, prev, hash}`` where ``hash`` is the
SHA-256 of the record's canonical JSON without ``hash`` and ``prev`` is the previous record's
``hash``. Editing a record breaks its hash (and a line must be its record's canonical form, so
even a change that parses to the same value is caught), deleting or reordering breaks the chain,
cutting records from the end falls short of the seal (:mod:`console.model.seal`), and a crash
mid-write leaves a torn last line that :meth:`Journal.open` sets aside (never discards) before
appending again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from console.model import seal
from console.model.errors import JournalCorrupt, JournalError
from console.model.seal import GENESIS, Seal, SealState
from console.model.secrets import Redactor

__all__ = [
    "GENESIS",
    "Journal",
    "JournalCheck",
    "TornTail",
    "canonical",
    "check",
    "read_records",
    "record_hash",
    "verify",
]


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_hash(record: dict[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(canonical(body).encode()).hexdigest()


@dataclass(frozen=True)
class TornTail:
    """Bytes of an unfinished last record, moved aside to ``saved_as``."""

    size: int
    saved_as: str


def read_records(path: Path, *, tolerate_torn_tail: bool = False) -> tuple[list[dict[str, Any]], bytes]:
    """Parse and verify every record; returns the records and any torn tail bytes.

    Raises :class:`JournalCorrupt` naming the first bad record (1-based, as ``seq``).
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise JournalError(f"{path}: journal not found") from None
    except OSError as exc:
        raise JournalError(f"{path}: cannot read journal: {exc.strerror}") from None
    name = str(path)
    body, newline, tail = raw.rpartition(b"\n")
    if not newline:
        body, tail = b"", raw
    records: list[dict[str, Any]] = []
    prev = GENESIS
    lines = body.split(b"\n") if body else []
    for number, line in enumerate(lines, start=1):
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("not an object")
        except ValueError:
            raise JournalCorrupt(name, number, "not a valid record (edited or damaged)") from None
        seq = record.get("seq")
        if seq != number:
            raise JournalCorrupt(name, number, _sequence_problem(lines[number:], number, seq))
        if record.get("hash") != record_hash(record):
            raise JournalCorrupt(name, number, "checksum mismatch: the record was edited")
        if line != canonical(record).encode():
            raise JournalCorrupt(name, number, "not in canonical form: its bytes were edited or damaged")
        if record.get("prev") != prev:
            raise JournalCorrupt(name, number, "chain broken: does not follow the record before it")
        prev = record["hash"]
        records.append(record)
    if tail and not tolerate_torn_tail:
        raise JournalCorrupt(
            name, len(records) + 1, f"torn record: {len(tail)} bytes without an end (truncated mid-write)"
        )
    return records, tail


def _sequence_problem(later: list[bytes], number: int, seq: Any) -> str:
    """Tell a deleted record from a moved one by looking for the missing seq further on."""
    marker = f'"seq":{number},'.encode()
    if any(marker in line for line in later):
        return f"expected seq {number}, found {seq}: records were reordered"
    if isinstance(seq, int) and seq > number:
        return f"expected seq {number}, found {seq}: record {number} was deleted"
    return f"expected seq {number}, found {seq}: records were reordered or duplicated"


@dataclass(frozen=True)
class JournalCheck:
    records: list[dict[str, Any]]
    tail: bytes
    seal: SealState


def check(path: Path, *, tolerate_torn_tail: bool = False) -> JournalCheck:
    """Every record verified, and the journal against its seal: raises :class:`JournalCorrupt` at
    the first bad record, or when records were cut from the end. The seal is read first, so a
    journal being appended to meanwhile is found past its seal, never short of it."""
    sealed = seal.read(path)
    records, tail = read_records(path, tolerate_torn_tail=tolerate_torn_tail)
    return JournalCheck(records, tail, seal.check(path, sealed, records, tail))


def verify(path: Path) -> list[dict[str, Any]]:
    """Check a whole journal and its seal; raise :class:`JournalCorrupt` at the first problem."""
    return check(path).records


class Journal:
    """An open journal, ready to append. Use :meth:`create` or :meth:`open`."""

    def __init__(self, path: Path, records: list[dict[str, Any]], redactor: Redactor) -> None:
        self.path = path
        self.redactor = redactor
        self._seq = len(records)
        self._prev = records[-1]["hash"] if records else GENESIS
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._broken = ""

    @property
    def closed(self) -> bool:
        return self._fd < 0

    @property
    def broken(self) -> str:
        """Why nothing more can be appended ("" while appending works)."""
        return self._broken

    @classmethod
    def create(cls, path: Path, redactor: Redactor) -> Journal:
        if path.exists():
            raise JournalError(f"{path}: journal already exists")
        journal = cls(path, [], redactor)
        journal._seal(Seal(0, GENESIS))
        _fsync_dir(path.parent)
        return journal

    @classmethod
    def open(cls, path: Path, redactor: Redactor) -> tuple[Journal, list[dict[str, Any]], TornTail | None]:
        """Open for appending after a crash: a torn last line is saved aside, then cut off.

        A journal short of its seal is refused before anything is touched; one past it (a crash
        between an append and the seal's update) has its seal brought up to date."""
        checked = check(path, tolerate_torn_tail=True)
        records, tail = checked.records, checked.tail
        torn = None
        if tail:
            aside = path.with_name(f"{path.name}.torn-{len(records) + 1}")
            n = 1
            while aside.exists():
                n += 1
                aside = path.with_name(f"{path.name}.torn-{len(records) + 1}.{n}")
            aside.write_bytes(tail)
            with path.open("r+b") as handle:
                handle.truncate(path.stat().st_size - len(tail))
                handle.flush()
                os.fsync(handle.fileno())
            torn = TornTail(len(tail), aside.name)
        journal = cls(path, records, redactor)
        if checked.seal.status in ("unsealed", "behind"):
            journal._seal(Seal(len(records), journal._prev))
        return journal, records, torn

    def _seal(self, sealed: Seal) -> None:
        try:
            seal.write(self.path, sealed)
        except OSError as exc:
            self.close()
            raise JournalError(f"{seal.seal_path(self.path)}: cannot write the seal: {exc.strerror}") from None

    def append(self, type_: str, data: dict[str, Any], *, actor: str, role: str, ts: str) -> dict[str, Any]:
        """Write one record and fsync it; only then may the caller apply and publish it."""
        if self._broken:
            raise JournalError(f"{self.path}: {self._broken}; restart warroom to resume from the journal")
        clean = _masked(data, self.redactor)
        record = {
            "seq": self._seq + 1,
            "ts": ts,
            "type": type_,
            "actor": actor,
            "role": role,
            "data": clean,
            "prev": self._prev,
        }
        record["hash"] = record_hash(record)
        line = (canonical(record) + "\n").encode()
        offset = os.lseek(self._fd, 0, os.SEEK_END)
        try:
            written = os.write(self._fd, line)
            while written < len(line):
                written += os.write(self._fd, line[written:])
            os.fsync(self._fd)
        except OSError as exc:
            # Cut a half-written record off so the file stays a valid prefix, and stop appending:
            # the state in memory no longer matches what is durable.
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, offset)
            self._broken = f"record {record['seq']} could not be written ({exc.strerror})"
            raise JournalError(f"{self.path}: cannot append record {record['seq']}: {exc.strerror}") from None
        try:
            seal.write(self.path, Seal(record["seq"], record["hash"]))
        except OSError as exc:
            # The record is durable but unsealed, and nobody was told of it: take it back, so that
            # journal, seal and the state in memory agree (a crash here leaves it one past the seal).
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, offset)
                os.fsync(self._fd)
            self._broken = f"record {record['seq']} could not be sealed ({exc.strerror})"
            raise JournalError(
                f"{seal.seal_path(self.path)}: cannot seal record {record['seq']}: {exc.strerror}"
            ) from None
        self._seq += 1
        self._prev = record["hash"]
        return record

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _masked(value: Any, redactor: Redactor, key: str = "") -> Any:
    """Mask secrets in string values only: keys stay, and the plan stays exactly what runs
    (plans never hold secrets: :func:`console.model.plan.build_plan` refuses credentials in commands)."""
    if isinstance(value, str):
        return redactor.text(value) if redactor.needed(value) else value
    if isinstance(value, dict):
        return {k: v if (key == "" and k == "plan") else _masked(v, redactor, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, redactor, key) for v in value]
    return value


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
