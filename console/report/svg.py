"""The timeline chart: each phase's planned window against its actual span, as inline SVG.

Drawn from report data only, with fixed-precision coordinates, so the same journal draws the same
bytes. Every label is escaped; the chart carries no script and links nothing.
"""

from __future__ import annotations

from html import escape
from typing import Any

from console.model.clock import parse_iso

WIDTH = 760
LABEL = 210
RIGHT = 24
TOP = 30
ROW = 28
STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 240)

COLOURS = {"ok": "#2e7d32", "late": "#c62828", "open": "#ef8f00", "none": "#9e9e9e"}


def timeline_svg(report: dict[str, Any]) -> str:
    phases = report["phases"]
    deadline = _deadline_minutes(report)
    ends = [p["window_end_minute"] for p in phases] + [(p["end_seconds"] or 0) / 60 for p in phases]
    span = max([1.0, *ends, deadline or 0.0])
    step = next((s for s in STEPS if span / s <= 12), STEPS[-1])
    span = -(-span // step) * step
    scale = (WIDTH - LABEL - RIGHT) / span
    height = TOP + ROW * len(phases) + 34

    def x(minutes: float) -> str:
        return f"{LABEL + minutes * scale:.1f}"

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" aria-label="Planned windows against actual times per phase">',
        "<title>Planned windows against actual times per phase</title>",
    ]
    for tick in range(0, int(span) + 1, step):
        out.append(f'<line x1="{x(tick)}" y1="{TOP - 6}" x2="{x(tick)}" y2="{TOP + ROW * len(phases)}" class="grid"/>')
        out.append(f'<text x="{x(tick)}" y="{TOP - 10}" class="tick">T+{tick}</text>')
    for i, phase in enumerate(phases):
        y = TOP + ROW * i
        label = escape(f"{phase['number']}. {phase['title']}")
        out.append(f'<text x="{LABEL - 8}" y="{y + 18}" class="label">{label}</text>')
        start, end = phase["window_start_minute"], phase["window_end_minute"]
        out.append(
            f'<rect x="{x(start)}" y="{y + 4}" width="{(end - start) * scale:.1f}" height="{ROW - 8}" class="planned">'
            f"<title>{escape(f'planned T+{start} to T+{end} min')}</title></rect>"
        )
        out.append(_actual(phase, y, x, scale))
    if deadline is not None:
        top, bottom = TOP - 6, TOP + ROW * len(phases)
        out.append(f'<line x1="{x(deadline)}" y1="{top}" x2="{x(deadline)}" y2="{bottom}" class="deadline"/>')
        anchor = "end" if deadline > span * 0.7 else "start"
        out.append(f'<text x="{x(deadline)}" y="{bottom + 14}" text-anchor="{anchor}" class="deadline-label">')
        out[-1] += "RTO deadline</text>"
    legend_y = height - 8
    out += [
        f'<rect x="{LABEL}" y="{legend_y - 10}" width="18" height="10" class="planned"/>',
        f'<text x="{LABEL + 24}" y="{legend_y}" class="legend">planned window</text>',
        f'<rect x="{LABEL + 140}" y="{legend_y - 8}" width="18" height="6" fill="{COLOURS["ok"]}"/>',
        f'<text x="{LABEL + 164}" y="{legend_y}" class="legend">actual (red: failed or over window)</text>',
        "</svg>",
    ]
    return "\n".join(out)


def _actual(phase: dict[str, Any], y: int, x: Any, scale: float) -> str:
    if phase["start_seconds"] is None:
        return ""
    start = phase["start_seconds"] / 60
    end = (phase["end_seconds"] if phase["end_seconds"] is not None else phase["start_seconds"]) / 60
    verdict = phase["verdict"]
    colour = COLOURS["ok"] if verdict == "within window" else COLOURS["open"] if verdict == "in progress" else None
    colour = colour or COLOURS["late"]
    width = max(2.0, (end - start) * scale)
    tip = escape(f"actual T+{start:.1f} to T+{end:.1f} min: {verdict}")
    return (
        f'<rect x="{x(start)}" y="{y + 10}" width="{width:.1f}" height="{ROW - 20}" fill="{colour}">'
        f"<title>{tip}</title></rect>"
    )


def _deadline_minutes(report: dict[str, Any]) -> float | None:
    deadline = report["rto"]["deadline"]
    if not deadline:
        return None
    minutes = round((parse_iso(deadline) - parse_iso(report["times"]["opened_at"])).total_seconds() / 60, 3)
    return minutes if minutes >= 0 else None
