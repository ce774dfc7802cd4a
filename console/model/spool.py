"""Per-step, per-host output files, written as output arrives, redacted, and batched to watchers.

The file holds the full output (secrets masked); watchers get whole lines in batches, one batch
per chunk read from the host, so a flood of output costs one event per 64 KiB, not per line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from console.model.secrets import Redactor

LINE_CUT = 65536  # a line longer than this is written out in pieces
Publish = Callable[[str, list[str]], None]


class OutputSpool:
    """Implements :class:`actions.base.OutputSink` for one host of one step attempt."""

    def __init__(self, path: Path, host: str, redactor: Redactor, publish: Publish) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.host = host
        self._redactor = redactor
        self._publish = publish
        self._file = path.open("wb")
        self._digest = hashlib.sha256()
        self._size = 0
        self._pending = b""
        self._closed = False

    def write(self, data: bytes) -> None:
        """Spool complete lines now; keep a partial last line until its end arrives.

        Masking runs on what is held plus what arrived, and the part that could be the start of a
        secret (or of a URL's user-info) still arriving stays held: a secret split across two
        reads, across a newline (a PEM) or across the forced cut of a 64 KiB line is masked whole.
        What is held is already masked; masking again leaves it unchanged.
        """
        data = self._pending + data
        if b"\n" not in data and len(data) < LINE_CUT:
            self._pending = data  # nothing to write yet: masked when it is
            return
        if self._redactor.values or b"://" in data:
            data = self._redactor.bytes(data)
        hold = self._redactor.hold_from(data)
        cut = data.rfind(b"\n", 0, hold) + 1
        if cut == 0 and len(data) < LINE_CUT:
            self._pending = data
            return
        if cut == 0:
            cut = self._redactor.hold_from(data, mid_line=True) or len(data)
        self._pending = data[cut:]
        self._emit(data[:cut])

    def _emit(self, clean: bytes) -> None:
        self._file.write(clean)
        self._file.flush()
        self._digest.update(clean)
        self._size += len(clean)
        text = clean.decode("utf-8", errors="replace")
        self._publish(self.host, text.splitlines())

    def close(self) -> tuple[int, str]:
        """Flush what is left and return ``(bytes, sha256)`` of the spooled file."""
        if not self._closed:
            if self._pending:
                self._emit(self._pending)
                self._pending = b""
            self._file.close()
            self._closed = True
        return self._size, self._digest.hexdigest()


def tail_lines(path: Path, max_bytes: int, max_lines: int | None = None) -> tuple[list[str], int]:
    """The last lines of a spool file, reading at most ``max_bytes`` from its end; with its size.

    Raises OSError like ``open`` (a caller says what it could not read).
    """
    size = path.stat().st_size
    with path.open("rb") as handle:
        handle.seek(max(0, size - max_bytes))
        lines = handle.read().decode("utf-8", errors="replace").splitlines()
    return (lines[-max_lines:] if max_lines else lines), size
