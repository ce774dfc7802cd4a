"""The report as JSON for tooling: the report data itself, described by ``report.schema.json``."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def render(report: dict[str, Any]) -> str:
    """Indented JSON; ``<``, ``>`` and ``&`` are written as escapes, so it is safe to embed in HTML."""
    text = json.dumps(report, indent=2, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") + "\n"


def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) shipped with the package."""
    text = resources.files("console.report").joinpath("report.schema.json").read_text(encoding="utf-8")
    return json.loads(text)
