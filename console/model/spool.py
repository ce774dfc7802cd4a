"""Per-step, per-host output files, written as output arrives, redacted, and batched to watchers.

The file holds the full output (secrets masked); watchers get whole lines in batches, one batch
per chunk read from the host, so a flood of output costs one event per 64 KiB, not per line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from console.model.secrets import Redactor

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

        Holding the partial line back means a secret split across two reads is still masked.
        """
        data = self._pending + data
        cut = data.rfind(b"\n") + 1
        if cut == 0 and len(data) < 65536:
            self._pending = data
            return
        if cut == 0:
            cut = len(data)
        self._pending = data[cut:]
        self._emit(data[:cut])

    def _emit(self, data: bytes) -> None:
        clean = self._redactor.bytes(data) if self._redactor.values or b"://" in data else data
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
