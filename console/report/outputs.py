"""Excerpts of spooled output files, checked against the size and checksum the journal recorded.

A file can be huge (a restore's log), so it is read once in chunks: hashed whole, keeping only
its first and last lines. The text is returned raw; the report cleans it like every other string.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
from pathlib import Path
from typing import Any

HEAD_LINES = 10
TAIL_LINES = 10
MAX_LINE = 240
CHUNK = 1 << 20
EDGE = 64 * 1024
"""Bytes read at each end of a file for its first and last lines."""


def output_path(step: str, attempt: int, host: str) -> str:
    """Where the engine spools a host's output, relative to the incident directory."""
    return f"outputs/{step}/{attempt}/{host}.log"


def excerpt(directory: Path, relative: str, recorded: dict[str, Any] | None) -> dict[str, Any]:
    """Head and tail of one output file, its size and SHA-256, and whether they match the journal.

    ``recorded`` is the host's journaled result (``bytes``, ``sha256``) or None while the step
    never finished (then the file is partial and nothing can be checked).
    """
    found: dict[str, Any] = {"path": relative, "size": None, "sha256": "", "check": "", "problem": ""}
    found.update(head=[], tail=[], omitted_lines=0, total_lines=0)
    try:
        handle = open_inside(directory, relative)
    except UnsafePath as exc:
        found["check"], found["problem"] = "refused", f"{relative} {exc}: not {'followed' if exc.link else 'read'}"
        return found
    if handle is None:
        if recorded is None or recorded.get("bytes"):
            found["check"] = "missing"
            found["problem"] = f"{relative} is missing from the incident directory"
        else:
            found["check"] = "empty"
        return found
    digest = hashlib.sha256()
    size = newlines = 0
    head = b""
    last = b""
    with handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            newlines += chunk.count(b"\n")
            if len(head) < EDGE:
                head += chunk[: EDGE - len(head)]
            last = chunk
        handle.seek(max(0, size - EDGE))
        tail = handle.read(EDGE)
    lines = newlines + (1 if size and not last.endswith(b"\n") else 0)
    first = _edge_lines(head, cut_end=size > len(head))[:HEAD_LINES]
    rest = min(TAIL_LINES, lines - len(first))
    final = _edge_lines(tail, cut_start=size > len(tail))[-rest:] if rest > 0 else []
    found.update(size=size, sha256=digest.hexdigest(), total_lines=lines)
    found["head"] = [_line(b) for b in first]
    found["tail"] = [_line(b) for b in final]
    found["omitted_lines"] = lines - len(first) - len(final)
    found["check"], found["problem"] = _check(relative, size, found["sha256"], recorded)
    return found


class UnsafePath(Exception):
    def __init__(self, message: str, *, link: bool) -> None:
        super().__init__(message)
        self.link = link


def open_inside(directory: Path, relative: str):
    """Open a regular file at ``relative`` under ``directory`` without following a symbolic link
    at any step and without leaving the directory (the names come from a journal that may have
    been written elsewhere); None when it is not there. Raises :class:`UnsafePath`."""
    parts = relative.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise UnsafePath("is not a plain path inside the incident directory", link=False)
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            try:
                child = os.open(part, flags | (os.O_NONBLOCK if last else os.O_DIRECTORY), dir_fd=fd)
            except FileNotFoundError:
                return None
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR) and _is_link(fd, part):
                    raise UnsafePath("is a symbolic link", link=True) from None
                if exc.errno == errno.ENOTDIR:
                    return None
                raise UnsafePath(f"cannot be opened ({exc.strerror})", link=False) from None
            os.close(fd)
            fd = child
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnsafePath("is not a regular file", link=False)
        handle = os.fdopen(fd, "rb")
        fd = -1
        return handle
    finally:
        if fd >= 0:
            os.close(fd)


def _is_link(dir_fd: int, name: str) -> bool:
    with contextlib.suppress(OSError):
        return stat.S_ISLNK(os.lstat(name, dir_fd=dir_fd).st_mode)
    return False


def _edge_lines(data: bytes, *, cut_start: bool = False, cut_end: bool = False) -> list[bytes]:
    """Whole lines of the first or last bytes of a file; a line cut by the edge is dropped."""
    if not data:
        return []
    parts = data.split(b"\n")
    if data.endswith(b"\n") or (cut_end and len(parts) > 1):
        parts.pop()
    if cut_start and len(parts) > 1:
        parts.pop(0)
    return parts


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
