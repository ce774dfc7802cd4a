"""The incident report behind the status page: rebuilt from the journal (as ``warroom report`` does),
in a thread, cached per journal record so a room full of browsers costs one build."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from console.report import build_report, render
from console.report import fmt as report_fmt


class ReportCache:
    def __init__(self, directory: Path, secrets: list[str]) -> None:
        self.directory = directory
        self.secrets = secrets
        self._html: tuple[int, str] | None = None
        self._lock = asyncio.Lock()

    def build(self) -> dict[str, Any]:
        return build_report(self.directory, secrets=self.secrets)

    async def html(self, seq: int) -> str:
        """The HTML report as of journal record ``seq`` (the newest, as the caller sees it)."""
        async with self._lock:
            if self._html is None or self._html[0] != seq:
                report = await asyncio.to_thread(self.build)
                self._html = seq, render(report, "html")
            return self._html[1]


def closed_summary(report: dict[str, Any]) -> dict[str, Any]:
    """The report's summary as the page's closed section shows it: label and plain text each."""
    rto, people, journal = report["rto"], report["people"], report["journal"]
    return {
        "rows": [
            ("Outcome", report["incident"]["marking"]),
            ("RTO", f"{rto['verdict']}: {rto['text']}"),
            ("Steps", report_fmt.step_counts(report)),
            ("Drove", report_fmt.seat_line(people)),
            ("Watched", ", ".join(people["observers"]) or "no observer recorded"),
            ("Journal", f"{journal['records']} records, chain {journal['chain']}, last hash {journal['last_hash']}"),
        ]
    }
