"""A sink that also keeps the ``warroom-fact key=value`` lines a remote script prints.

Step kinds that run shell over SSH (storage, git) report what they established through such
lines; the lines stay in the spooled output, where an operator reading it sees the same facts.
"""

from __future__ import annotations

from actions.base import OutputSink

FACT = "warroom-fact "
LINE_CAP = 4096  # a fact line is short; of a longer line only its start is kept (never a copy per read)


class FactSink:
    def __init__(self, inner: OutputSink) -> None:
        self._inner = inner
        self._partial = b""
        self.facts: dict[str, str] = {}

    def write(self, data: bytes) -> None:
        """Pass ``data`` on; read the fact lines in it. The unfinished last line is kept only up
        to :data:`LINE_CAP` bytes, so a flood without newlines costs neither memory nor copying."""
        self._inner.write(data)
        end = data.find(b"\n")
        if end < 0:
            if len(self._partial) < LINE_CAP:
                self._partial = self._partial + data[: LINE_CAP - len(self._partial)]
            return
        self._take((self._partial + data[:end])[:LINE_CAP])
        lines = data[end + 1 :].split(b"\n")
        last = lines.pop()
        for raw in lines:
            self._take(raw[:LINE_CAP])
        self._partial = last[:LINE_CAP]

    def _take(self, raw: bytes) -> None:
        line = raw.decode("utf-8", errors="replace").strip()
        if line.startswith(FACT) and "=" in line:
            key, _, value = line[len(FACT) :].partition("=")
            self.facts[key.strip()] = value.strip()

    def close(self) -> tuple[int, str]:
        if self._partial:
            self._take(self._partial)
            self._partial = b""
        return self._inner.close()


def as_number(value: str) -> int | str:
    return int(value) if value.isdigit() else value
