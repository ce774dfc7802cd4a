"""Excerpts of spooled output files, checked against the size and checksum the journal recorded.

A file can be huge (a restore's log), so it is read once in chunks: hashed whole, keeping only
its first and last lines. The text is returned raw; the report cleans it like every other string.
"""

from __future__ import annotations

import hashlib
from collections import deque
from pathlib import Path
from typing import Any

HEAD_LINES = 10
TAIL_LINES = 10
MAX_LINE = 240
CHUNK = 1 << 20


def output_path(step: str, attempt: int, host: str) -> str:
    """Where the engine spools a host's output, relative to the incident directory."""
    return f"outputs/{step}/{attempt}/{host}.log"


def excerpt(directory: Path, relative: str, recorded: dict[str, Any] | None) -> dict[str, Any]:
    """Head and tail of one output file, its size and SHA-256, and whether they match the journal.

    ``recorded`` is the host's journaled result (``bytes``, ``sha256``) or None while the step
    never finished (then the file is partial and nothing can be checked).
    """
    path = directory / relative
    found: dict[str, Any] = {"path": relative, "size": None, "sha256": "", "check": "", "problem": ""}
    found.update(head=[], tail=[], omitted_lines=0, total_lines=0)
    if not path.is_file():
        if recorded is None or recorded.get("bytes"):
            found["check"] = "missing"
            found["problem"] = f"{relative} is missing from the incident directory"
        else:
            found["check"] = "empty"
        return found
    digest = hashlib.sha256()
    head: list[bytes] = []
    tail: deque[bytes] = deque(maxlen=TAIL_LINES)
    lines = 0
    size = 0
    partial = b""
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            *complete, partial = (partial + chunk).split(b"\n")
            for line in complete:
                lines += 1
                (head if len(head) < HEAD_LINES else tail).append(line[: MAX_LINE * 4])
            partial = partial[: MAX_LINE * 4]  # a line without end in a huge file: keep its start
    if partial:
        lines += 1
        (head if len(head) < HEAD_LINES else tail).append(partial)
    found.update(size=size, sha256=digest.hexdigest(), total_lines=lines)
    found["head"] = [_line(b) for b in head]
    found["tail"] = [_line(b) for b in tail]
    found["omitted_lines"] = lines - len(head) - len(tail)
    found["check"], found["problem"] = _check(relative, size, found["sha256"], recorded)
    return found


def _line(raw: bytes) -> str:
    text = raw.decode("utf-8", errors="replace").rstrip("\r")
    return text if len(text) <= MAX_LINE else text[:MAX_LINE] + " …"


def _check(relative: str, size: int, sha: str, recorded: dict[str, Any] | None) -> tuple[str, str]:
    if recorded is None:
        return "partial", "the step never finished: this output may be incomplete and has no recorded checksum"
    if not recorded.get("sha256"):
        return "unrecorded", "the journal recorded no checksum for this output"
    if recorded["sha256"] != sha or recorded.get("bytes", size) != size:
        return "mismatch", (
            f"checksum mismatch: {relative} is {size} bytes, sha256 {sha[:12]}…; the journal recorded "
            f"{recorded.get('bytes')} bytes, sha256 {recorded['sha256'][:12]}… (the file was changed)"
        )
    return "ok", ""
