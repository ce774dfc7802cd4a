"""Small text forms shared by the Markdown and HTML renderers (plain text; each escapes its own)."""

from __future__ import annotations

from typing import Any

from console.model.ages import age_text
from console.report.times import duration


def day(iso_ts: str) -> str:
    return iso_ts[:10]


def when(iso_ts: str, t: str = "", base_day: str = "") -> str:
    """``03:10:00 (T+10:00)``; the date is added when it is not the incident's first day."""
    if not iso_ts:
        return ""
    moment = iso_ts[11:19]
    if base_day and day(iso_ts) != base_day:
        moment = f"{day(iso_ts)} {moment}"
    return f"{moment} ({t})" if t else moment


def stamp(iso_ts: str) -> str:
    """``2026-11-29 03:00:00 UTC``."""
    return f"{iso_ts[:10]} {iso_ts[11:19]} UTC" if iso_ts else ""


def size(n: int | None) -> str:
    if n is None:
        return ""
    if n < 1024:
        return f"{n} B"
    for unit in ("KiB", "MiB", "GiB"):
        n /= 1024  # type: ignore[assignment]
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}"
    return ""  # pragma: no cover


def secs(value: float | None) -> str:
    return duration(value) if value is not None else ""


def exit_code(value: Any) -> str:
    return "" if value is None else str(value)


def facts(found: dict[str, Any]) -> str:
    return ", ".join(f"{k} = {_value(v)}" for k, v in _aged(found).items())


def _aged(found: dict[str, Any]) -> dict[str, Any]:
    """An ``age`` in words beside ``age_seconds`` is said again from those seconds: journals
    written before :mod:`console.model.ages` put ``age = 0 min`` beside ``age_seconds = 60``."""
    seconds = found.get("age_seconds")
    if isinstance(found.get("age"), str) and isinstance(seconds, int | float) and not isinstance(seconds, bool):
        return found | {"age": age_text(seconds)}
    return found


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + facts(value) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return str(value)


def output_check(output: dict[str, Any]) -> str:
    return {
        "ok": "checksum matches the journal",
        "mismatch": "CHECKSUM MISMATCH",
        "missing": "output file missing",
        "refused": "NOT READ (unsafe path)",
        "partial": "partial (step never finished)",
        "unrecorded": "no checksum recorded",
        "empty": "no output",
    }.get(output["check"], output["check"])


def step_counts(report: dict[str, Any]) -> str:
    crashed = report["incident"]["status"] == "crashed"
    counts: dict[str, int] = {}
    for step in report["steps"]:
        status = "interrupted" if crashed and step["status"] == "running" else step["status"]
        counts[status] = counts.get(status, 0) + 1
    return ", ".join(f"{n} {status.replace('_', ' ')}" for status, n in counts.items())


def outcome(attempt: dict[str, Any]) -> str:
    return "outcome unknown" if attempt["outcome"] == "unknown" else attempt["outcome"].replace("_", " ")


def seat_line(people: dict[str, Any]) -> str:
    return ", ".join(people["drivers"]) or "nobody took the driver seat"


def severity_line(sev: dict[str, Any]) -> str:
    parts = [f"{sev['level']} {sev['label']}".strip()]
    if sev["rollback"]:
        parts.append(f"rollback: {sev['rollback']}")
    if sev["rto_minutes"] is not None:
        parts.append(f"RTO {sev['rto_minutes']} min")
    return ", ".join(parts)


def runbook_line(rb: dict[str, Any]) -> str:
    origin = f", {rb['origin']}" if rb["origin"] else ""
    return f"{rb['title']} ({rb['id']} {rb['version']}{origin})"


def variants(env: dict[str, Any]) -> str:
    chosen = ", ".join(f"{k} = {v}" for k, v in env["variants"].items())
    return f"{env['name']} ({chosen})" if chosen else env["name"]


def hosts_line(hosts: list[dict[str, Any]]) -> str:
    """``t1: deploy@10.0.0.5:22 via bastion; bastion: ops@192.0.2.1:22``."""
    return "; ".join(f"{h['name']}: {h['route']}" for h in hosts)


def phase_actual(phase: dict[str, Any]) -> str:
    if not phase["start_t"]:
        return "not started"
    return f"{phase['start_t']} – {phase['end_t'] or '…'}"


def phase_window(phase: dict[str, Any]) -> str:
    return f"T+{phase['window_start_minute']} – T+{phase['window_end_minute']} min"


def lines(n: int) -> str:
    return "1 line" if n == 1 else f"{n} lines"


def comm_due(comm: dict[str, Any], base: str) -> str:
    """``T+5 min, 03:05:00`` or ``if customer impact``."""
    return f"{comm['when']}, {when(comm['due_at'], '', base)}" if comm["due_at"] else comm["when"]


def seat_events(report: dict[str, Any], base: str) -> list[tuple[str, str]]:
    """``(when, what)`` of every seat change, presence change, resume and torn record, in time order."""
    events = [(c["at"], c["t"], c["text"]) for c in report["people"]["seat_changes"]]
    for p in report["people"]["presence"]:
        how = ", ".join(x for x in (p["role"], f"via {p['via']}" if p["via"] else "") if x)
        events.append((p["at"], p["t"], f"{p['name']} {p['event']}" + (f" ({how})" if how else "")))
    for x in report["journal"]["resumes"]:
        before = f" (driver before: {x['previous_driver']})" if x["previous_driver"] else ""
        events.append((x["at"], x["t"], f"{x['by']} resumed the incident{before}"))
    for x in report["journal"]["torn_records_set_aside"]:
        events.append((x["at"], x["t"], f"a torn record of {x['bytes']} bytes was set aside as {x['saved_as']}"))
    return [(when(at, t, base), text) for at, t, text in sorted(events, key=lambda e: e[0])]


def rto_target(rto: dict[str, Any], base: str) -> str:
    """``30 min from detection, deadline 03:22:00`` (or nothing when the severity has no RTO)."""
    if rto["target_minutes"] is None:
        return ""
    since = {"detected": "detection", "opened": "opening"}.get(rto["counted_from"], rto["counted_from"])
    deadline = f", deadline {when(rto['deadline'], '', base)}" if rto["deadline"] else ""
    return f"{rto['target_minutes']} min from {since}{deadline}"
