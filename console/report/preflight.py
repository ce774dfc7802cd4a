"""The preflight gate the incident opened behind, for the report's timeline: passed (compact) or
overridden with ``--force`` (every failed line, as the journal kept it)."""

from __future__ import annotations

from typing import Any

from console.model import events
from console.report.times import Moments

GATE_EVENTS = (events.PREFLIGHT_PASSED, events.PREFLIGHT_OVERRIDDEN)


def preflight_section(records: list[dict[str, Any]], at: Moments) -> dict[str, Any] | None:
    """None for an incident opened without the gate (older journals, a resumed run's own record)."""
    record = next((r for r in records if r["type"] in GATE_EVENTS), None)
    if record is None:
        return None
    data = record["data"]
    return {
        "at": record["ts"],
        "t": at.t(record["ts"]),
        "by": record["actor"],
        "verdict": "passed" if record["type"] == events.PREFLIGHT_PASSED else "overridden",
        "checks": int(data.get("checks", 0)),
        "hosts": [str(h) for h in data.get("hosts", [])],
        "failed": [_line(x) for x in data.get("failed", [])],
        "warnings": [_line(x) for x in data.get("warnings", [])],
    }


def _line(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "host": str(item.get("host", "")),
        "check": str(item.get("check", "")),
        "detail": str(item.get("detail", "")),
        "steps": [str(s) for s in item.get("steps", [])],
    }


def preflight_text(p: dict[str, Any]) -> str:
    """One sentence for the timeline."""
    hosts = f"{len(p['hosts'])} host{'s' if len(p['hosts']) != 1 else ''}"
    warned = f", {len(p['warnings'])} warning{'s' if len(p['warnings']) != 1 else ''}" if p["warnings"] else ""
    if p["verdict"] == "passed":
        return f"Preflight gate passed at {p['t']}: {p['checks']} checks on {hosts}{warned}."
    return (
        f"Preflight gate OVERRIDDEN by {p['by']} at {p['t']} (--force): {len(p['failed'])} of {p['checks']} "
        f"checks on {hosts} failed{warned}; the run started anyway."
    )


def preflight_rows(p: dict[str, Any]) -> list[list[str]]:
    """``[result, host, check, detail]`` of every failed and warned line."""
    return [
        [result, x["host"], x["check"], x["detail"] + (f" (steps {', '.join(x['steps'])})" if x["steps"] else "")]
        for result, lines in (("FAIL", p["failed"]), ("warn", p["warnings"]))
        for x in lines
    ]
