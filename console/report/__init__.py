"""The incident report: Markdown, self-contained HTML and JSON, rebuilt from the journal alone.

:func:`build_report` reads an incident directory (the verified journal and the spooled outputs,
nothing else) into report data; :func:`render` lays it out in one format; :func:`export_all`
writes all three next to the journal. The same directory gives byte-identical reports on any
machine: no clock is read and no path outside the incident directory is shown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from console.model.errors import IncidentError
from console.report import html, json_format, markdown
from console.report.model import build
from console.report.outputs import excerpt
from console.report.redact import Cleaner
from console.report.source import read_incident

FORMATS: dict[str, tuple[str, Callable[[dict[str, Any]], str]]] = {
    "md": ("report.md", markdown.render),
    "html": ("report.html", html.render),
    "json": ("report.json", json_format.render),
}


def build_report(incident_dir: Path, *, secrets: Iterable[str] = ()) -> dict[str, Any]:
    """The report data of one incident; ``secrets`` are extra values to mask (from a config)."""
    source = read_incident(incident_dir)
    data = build(
        source.records,
        lambda relative, recorded: excerpt(incident_dir, relative, recorded),
        torn_bytes=source.torn_bytes,
        seal=source.seal,
        live=source.live,
    )
    return Cleaner(secrets).tree(data)


def render(report: dict[str, Any], fmt: str) -> str:
    return FORMATS[fmt][1](report)


def export_all(incident_dir: Path) -> list[Path]:
    """Write report.md, report.html and report.json into the incident directory; returns their paths."""
    report = build_report(incident_dir)
    written = []
    for fmt, (name, _) in FORMATS.items():
        path = incident_dir / name
        write_atomic(path, render(report, fmt))
        written.append(path)
    return written


def write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a reader never sees half a report."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(text.encode("utf-8"))
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise IncidentError(f"{path}: cannot write the report: {exc.strerror}") from None


__all__ = ["FORMATS", "build_report", "export_all", "render"]
