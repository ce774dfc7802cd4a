"""The report as Markdown that pastes cleanly into a GitHub issue or Confluence.

GitHub-flavoured tables, no raw HTML: every piece of journal text is backslash-escaped so that
``<script>`` or ``|`` in remote output stays text, and output excerpts sit in fences longer than
any run of backticks inside them.
"""

from __future__ import annotations

import re
from typing import Any

from console.report import fmt
from console.report.preflight import preflight_rows, preflight_text

_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")
_LINE_START = re.compile(r"^(\s*(?:\d+)?)([#+=>.)-])")


def esc(text: Any, *, block: bool = False) -> str:
    """Inline text with Markdown specials escaped and newlines folded (a table cell stays one row).

    ``block`` also escapes what would start a heading, list or quote at the start of a line.
    """
    flat = " ".join(str(text).split()) if "\n" in str(text) else str(text)
    flat = _SPECIAL.sub(r"\\\1", flat)
    return _LINE_START.sub(r"\1\\\2", flat) if block else flat


def code(text: Any) -> str:
    """An inline code span (ids, hashes) that survives any backticks inside."""
    text = str(text).replace("|", "\\|")
    ticks = "`" * (max((len(r) for r in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def fence(lines: list[str], info: str = "") -> list[str]:
    runs = [len(r) for line in lines for r in re.findall(r"`+", line)]
    marker = "`" * max(3, max(runs, default=0) + 1)
    return [f"{marker}{info}", *lines, marker]


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    if not rows:
        return []
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(cell or " " for cell in row) + " |" for row in rows]
    return [*out, ""]


def render(report: dict[str, Any]) -> str:
    base = fmt.day(report["times"]["opened_at"])
    out: list[str] = []
    for section in (
        _head,
        _summary,
        _timeline,
        _activity,
        _steps,
        _ticks,
        _comms,
        _notes,
        _skipped,
        _seat,
        _warnings,
        _actions,
    ):
        out += section(report, base)
    return "\n".join(out).rstrip("\n") + "\n"


def _w(item: dict[str, Any], base: str, key: str = "at", t: str = "t") -> str:
    return esc(fmt.when(item[key], item[t], base))


def _head(r: dict[str, Any], base: str) -> list[str]:
    inc = r["incident"]
    out = [f"# Incident {esc(inc['id'])}: {esc(r['runbook']['title'])}", "", f"> **{esc(inc['marking'])}**"]
    if inc["summary"]:
        out += [">", f"> {esc(inc['summary'], block=True)}"]
    if r["journal"]["torn_tail_bytes"]:
        out += [
            ">",
            f"> The journal ends in a torn record ({r['journal']['torn_tail_bytes']} bytes without an end, "
            "written when the process died); this report covers every complete record before it.",
        ]
    return [*out, ""]


def _summary(r: dict[str, Any], base: str) -> list[str]:
    t, sev, rto, j = r["times"], r["severity"], r["rto"], r["journal"]
    severity = fmt.severity_line(sev)
    for change in sev["changes"]:
        severity += f"; {change['from']} → {change['to']} at {fmt.when(change['at'], change['t'], base)}"
        severity += f" by {change['by']}" + (f" ({change['reason']})" if change["reason"] else "")
    decisions = "; ".join(
        f"{d['decision']}: {d['reason']} ({d['by']}, {fmt.when(d['at'], d['t'], base)})" for d in r["decisions"]
    )
    rto_cell = f"{esc(fmt.rto_target(rto, base))}: **{esc(rto['verdict'])}**, {esc(rto['text'])}"
    if rto["breached_at"]:
        rto_cell += esc(f"; breach journaled at {fmt.when(rto['breached_at'], '', base)}")
    rows = [
        ["Runbook", esc(fmt.runbook_line(r["runbook"]))],
        ["Environment", esc(fmt.variants(r["environment"]))],
        *([["Hosts", esc(fmt.hosts_line(r["hosts"]))]] if r.get("hosts") else []),
        ["Severity", esc(severity)],
        ["Trigger", esc(r["trigger"])],
        ["Rollback decision", esc(decisions or "no decision recorded")],
        ["Drove", esc(fmt.seat_line(r["people"]))],
        ["Watched", esc(", ".join(r["people"]["observers"]) or "no observer recorded")],
        ["Detected", esc(f"{fmt.stamp(t['detected_at'])} ({t['detected_t']})")],
        ["Opened", esc(f"{fmt.stamp(t['opened_at'])} by {t['opened_by']}")],
        [
            "Closed",
            esc(
                f"{fmt.stamp(t['closed_at'])} ({t['closed_t']}) by {t['closed_by']}"
                if t["closed_at"]
                else f"not closed (last record {fmt.stamp(t['as_of'])}, {t['as_of_t']})"
            ),
        ],
        ["RTO", rto_cell],
        ["RPO", _rpo_cell(r["rpo"])],
        ["Steps", esc(fmt.step_counts(r))],
        [
            "Journal",
            esc(f"{j['file']}: {j['records']} records, chain {j['chain']}, last hash ")
            + code(j["last_hash"])
            + esc(f"; {j['seal']['text']}"),
        ],
    ]
    return ["## Summary", "", *table(["Field", "Value"], rows)]


def _rpo_cell(rpo: dict[str, Any]) -> str:
    targets = "; ".join(f"{t['scope']} {t['target_minutes']} min" for t in rpo["targets"]) or "none"
    return esc(f"{rpo['text']} (targets: {targets})")


def _timeline(r: dict[str, Any], base: str) -> list[str]:
    rows = [
        [
            esc(f"{p['number']}. {p['title']}"),
            esc(fmt.phase_window(p)),
            esc(f"{fmt.when(p['planned_start'], '', base)} – {fmt.when(p['planned_end'], '', base)}"),
            esc(fmt.phase_actual(p)),
            esc(fmt.secs(p["duration_seconds"])),
            esc(f"{p['verdict']} [{p['done']}/{p['total']}]"),
        ]
        for p in r["phases"]
    ]
    head = ["## Timeline", "", "T+0 is when the incident was opened; windows are the runbook's plan.", ""]
    return head + _preflight(r) + table(["Phase", "Window", "Planned", "Actual", "Duration", "Verdict"], rows)


def _preflight(r: dict[str, Any]) -> list[str]:
    gate = r.get("preflight")
    if gate is None:
        return []
    text = esc(preflight_text(gate))
    out = [f"**{text}**" if gate["verdict"] != "passed" else text, ""]
    rows = [[esc(c) for c in row] for row in preflight_rows(gate)]
    return out + table(["Result", "Host", "Check", "Detail"], rows)


def _steps(r: dict[str, Any], base: str) -> list[str]:
    out = ["## Steps", ""]
    titles = {p["id"]: p["number"] for p in r["phases"]}
    for step in r["steps"]:
        out += _step(step, titles.get(step["phase"], 0), base)
    if r["excluded_steps"]:
        out += ["Left out of this environment's plan:", ""]
        out += [f"- {code(e['id'])}: {esc(e['reason'])}" for e in r["excluded_steps"]] + [""]
    return out


def _step(step: dict[str, Any], phase: int, base: str) -> list[str]:
    flags = [step["kind"]]
    if step["hosts"]:
        flags.append("on " + ", ".join(step["hosts"]))
    if step["destructive"]:
        flags.append("destructive")
    if step["optional"]:
        flags.append("optional")
    out = [
        f"### {code(step['id'])} {esc(step['title'])}",
        "",
        f"Phase {phase} · {esc(' · '.join(flags))} · **{esc(step['status_text'])}**",
        "",
    ]
    if step["skip"]:
        s = step["skip"]
        out += [f"Skipped by {esc(s['by'])} at {_w(s, base)}: {esc(s['reason'])}", ""]
    for group in step["per_host"] or [step]:  # per-host values: what each group of hosts ran
        if group["commands"]:
            lines = ([f"cd {group['cwd']}"] if group["cwd"] else []) + group["commands"]
            on = [f"On {esc(', '.join(group['hosts']))}:", ""] if step["per_host"] else []
            out += [*on, *fence(lines, "sh"), ""]
    checks = [
        [esc(c["text"]), esc(c["result"] or "not ticked"), esc(c["by"]), _w(c, base), esc(c["note"])]
        for c in step["checks"]
    ]
    out += table(["Check", "Result", "By", "When", "Note"], checks)
    for attempt in step["attempts"]:
        out += _attempt(attempt, base)
    return out


def _attempt(a: dict[str, Any], base: str) -> list[str]:
    ended = f", finished {fmt.when(a['finished_at'], a['finished_t'], base)}" if a["finished_at"] else ""
    took = f" in {fmt.secs(a['duration_seconds'])}" if a["duration_seconds"] is not None else ""
    confirmed = " (destructive, confirmed)" if a["confirmed"] else ""
    line = f"Attempt {a['number']}: started {fmt.when(a['started_at'], a['t'], base)} by {a['started_by']}{confirmed}"
    out = [f"**{esc(line + ended + took)}: {esc(fmt.outcome(a))}**", ""]
    if a["error"]:
        out += [f"Error: {esc(a['error'])}", ""]
    rows = [
        [
            esc(h["host"]),
            esc(h["status"]),
            esc(fmt.exit_code(h["exit_code"])),
            esc(fmt.secs(h["duration_seconds"])),
            esc(fmt.size(h["output"]["size"])),
            esc(fmt.output_check(h["output"])),
            esc(h["error"]),
        ]
        for h in a["hosts"]
    ]
    out += table(["Host", "Status", "Exit", "Duration", "Output", "Checksum", "Error"], rows)
    for h in a["hosts"]:
        out += _excerpt(h)
    return out


def _excerpt(h: dict[str, Any]) -> list[str]:
    o = h["output"]
    out = []
    if h["facts"]:
        out += [f"Facts from {esc(h['host'])}: {esc(fmt.facts(h['facts']))}", ""]
    if o["problem"]:
        out += [f"> **{esc(o['problem'])}**", ""]
    if not o["head"]:
        return out
    sha = f", sha256 {code(o['sha256'])}" if o["sha256"] else ""
    out += [
        f"Output of {esc(h['host'])}: {code(o['path'])}, {esc(fmt.size(o['size']))}, "
        f"{fmt.lines(o['total_lines'])}{sha}",
        "",
    ]
    lines = list(o["head"])
    if o["omitted_lines"]:
        lines.append(f"[… {o['omitted_lines']} lines not shown …]")
    lines += o["tail"]
    return [*out, *fence(lines, "text"), ""]


def _ticks(r: dict[str, Any], base: str) -> list[str]:
    rows = [
        [_w(t, base), esc(t["by"]), code(t["step"]), esc(t["text"] or t["check"]), esc(t["result"]), esc(t["note"])]
        for t in r["ticks"]
    ]
    return [
        "## Verification ticks",
        "",
        *(table(["When", "By", "Step", "Check", "Result", "Note"], rows) or ["No check was ticked.", ""]),
    ]


def _comms(r: dict[str, Any], base: str) -> list[str]:
    rows = []
    for c in r["comms"]:
        status = c["status"] + (f" by {c['late_by']}" if c["late_by"] else "")
        sent = fmt.when(c["sent_at"], c["sent_t"], base)
        rows.append(
            [
                esc(fmt.comm_due(c, base)),
                esc(c["channel"]),
                esc(c["to"]),
                esc(c["summary"]),
                f"**{esc(status)}**",
                esc(sent),
                esc(c["sent_by"]),
                esc("; ".join(x for x in (c["note"], c["result"]) if x)),
            ]
        )
    return [
        "## Communications",
        "",
        *(
            table(["Due", "Channel", "To", "What", "Status", "Sent", "By", "Note"], rows)
            or ["The runbook has no communication plan.", ""]
        ),
    ]


def _activity(r: dict[str, Any], base: str) -> list[str]:
    """The incident as the war room's activity pane showed it (the same lines: console.model.activity)."""
    rows = [[_w(a, base), esc(a["who"]), esc(a["text"])] for a in r["activity"]]
    return ["## Activity", "", *(table(["When", "Who", "What"], rows) or ["Nothing happened.", ""])]


def _notes(r: dict[str, Any], base: str) -> list[str]:
    items = [f"- {_w(n, base)} **{esc(n['by'])}**: {esc(n['text'])}" for n in r["notes"]]
    return ["## Notes", "", *(items or ["No notes."]), ""]


def _skipped(r: dict[str, Any], base: str) -> list[str]:
    rows = [[code(s["step"]), esc(s["title"]), esc(s["by"]), _w(s, base), esc(s["reason"])] for s in r["skipped"]]
    return ["## Skipped steps", "", *(table(["Step", "Title", "By", "When", "Reason"], rows) or ["None.", ""])]


def _seat(r: dict[str, Any], base: str) -> list[str]:
    rows = [[esc(moment), esc(text)] for moment, text in fmt.seat_events(r, base)]
    refusals = [[_w(x, base), esc(x["by"]), esc(x["role"]), esc(x["command"]), esc(x["reason"])] for x in r["refusals"]]
    return [
        "## Driver seat and refusals",
        "",
        *(table(["When", "Change"], rows) or ["No seat changes.", ""]),
        *(table(["When", "Who", "Role", "Command", "Refused because"], refusals) or ["No command was refused.", ""]),
    ]


def _warnings(r: dict[str, Any], base: str) -> list[str]:
    rows = [[_w(w, base), code(w["step"]), str(w["attempt"]), esc(w["host"]), esc(w["message"])] for w in r["warnings"]]
    return ["## Warnings", "", *(table(["When", "Step", "Attempt", "Host", "Warning"], rows) or ["None.", ""])]


def _actions(r: dict[str, Any], base: str) -> list[str]:
    out = ["## Post-rollback actions", ""]
    for f in r["followups"]:
        out.append(f"- [ ] **{esc(f['title'])}**")
        out += [f"  - [ ] {esc(item)}" for item in f["items"]]
    if not r["followups"]:
        out.append("The runbook lists no post-rollback actions.")
    out.append("")
    if r["prevention"]:
        out += ["### Prevention", ""]
        out += [f"- **{esc(p['title'])}**: {esc(', '.join(p['items']))}" for p in r["prevention"]] + [""]
    contacts = [[esc(c["role"]), esc(c["name"]), esc(c["phone"]), esc(c["email"])] for c in r["contacts"]]
    if contacts:
        out += ["### Contacts", "", *table(["Role", "Name", "Phone", "E-mail"], contacts)]
    j = r["journal"]
    out += [
        "---",
        "",
        esc(f"Rebuilt by warroom from {j['file']} ({j['records']} records, first hash ")
        + code(j["first_hash"][:16])
        + esc(", last hash ")
        + code(j["last_hash"][:16])
        + ").",
    ]
    return out
