"""A sink that also keeps the ``warroom-fact key=value`` lines a remote script prints.

Step kinds that run shell over SSH (storage, git) report what they established through such
lines; the lines stay in the spooled output, where an operator reading it sees the same facts.
"""

from __future__ import annotations

from actions.base import OutputSink

FACT = "warroom-fact "


class FactSink:
    def __init__(self, inner: OutputSink) -> None:
        self._inner = inner
        self._partial = b""
        self.facts: dict[str, str] = {}

    def write(self, data: bytes) -> None:
        self._inner.write(data)
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()
        for raw in lines:
            self._take(raw)

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
