"""The report as one self-contained HTML file: inline CSS, inline SVG, no scripts, printable.

Every piece of journal text goes through :func:`html.escape`, so remote output such as
``<script>`` shows as text; a Content-Security-Policy forbids scripts and external loads even so.
"""

from __future__ import annotations

from html import escape
from typing import Any

from console.report import fmt
from console.report.preflight import preflight_rows, preflight_text
from console.report.svg import timeline_svg

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

CSS = """
:root { --ok: #2e7d32; --bad: #c62828; --warn: #ef8f00; --muted: #666; --line: #d0d7de; }
* { box-sizing: border-box; }
body { font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: #1f2328; max-width: 1100px; margin: 2em auto; padding: 0 1.5em; }
h1 { font-size: 1.6em; margin: 0 0 .3em; }
h2 { font-size: 1.25em; border-bottom: 1px solid var(--line); padding-bottom: .2em; margin-top: 1.8em; }
h3 { font-size: 1.05em; margin: 1.4em 0 .3em; }
code, pre { font: 12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { background: #f6f8fa; border: 1px solid var(--line); padding: .6em .8em; overflow-x: auto;
  white-space: pre-wrap; word-break: break-all; }
table { border-collapse: collapse; margin: .5em 0 1em; width: 100%; }
th, td { border: 1px solid var(--line); padding: .3em .55em; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
table.kv th { width: 11em; }
.marking { display: inline-block; font-weight: 700; padding: .3em .8em; border-radius: 4px; color: #fff; }
.marking.closed { background: var(--ok); } .marking.open { background: var(--warn); }
.marking.crashed { background: var(--bad); }
.s-succeeded, .s-ok, .s-pass, .s-met, .s-sent { color: var(--ok); font-weight: 600; }
.s-failed, .s-error, .s-fail, .s-missed, .s-mismatch, .s-interrupted, .s-timed_out, .s-cancelled,
.s-running, .s-unknown, .s-missing { color: var(--bad); font-weight: 600; }
.s-skipped, .s-na, .s-pending { color: var(--muted); }
.s-late, .s-overdue, .s-partial { color: var(--warn); font-weight: 600; }
.meta { color: var(--muted); }
.a-step-failed, .a-comms-failed, .a-breach, .a-refusal { color: var(--bad); }
.a-note { font-weight: 600; } .a-warning { color: var(--warn); } .a-presence { color: var(--muted); }
.problem { border-left: 4px solid var(--bad); padding: .3em .8em; background: #fff4f4; }
.omitted { color: var(--muted); font-style: italic; }
ul.checklist { list-style: none; padding-left: 1em; }
ul.checklist li::before { content: "\\2610\\00a0"; }
svg.chart { max-width: 100%; height: auto; font: 11px sans-serif; }
svg .grid { stroke: #e1e4e8; } svg .tick { text-anchor: middle; fill: var(--muted); }
svg .label { text-anchor: end; fill: #1f2328; } svg .legend { fill: var(--muted); }
svg .planned { fill: #dbe9f6; stroke: #7aa7d6; }
svg .deadline { stroke: var(--bad); stroke-dasharray: 4 3; } svg .deadline-label { fill: var(--bad); }
footer { margin-top: 2.5em; color: var(--muted); font-size: .9em; }
@media print {
  body { margin: 0; max-width: none; font-size: 10.5pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  h2, h3 { break-after: avoid; } tr, pre, svg, .step-head { break-inside: avoid; }
  pre { white-space: pre-wrap; }
}
"""


def e(text: Any) -> str:
    return escape(str(text), quote=True)


def cls(status: str) -> str:
    return f"s-{e(status.split(' ')[0])}"


def table(header: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return ""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render(report: dict[str, Any]) -> str:
    base = fmt.day(report["times"]["opened_at"])
    inc = report["incident"]
    title = e(f"Incident {inc['id']}: {report['runbook']['title']}")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
    ]
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
        parts.append(section(report, base))
    parts += ["</body>", "</html>"]
    return "\n".join(p for p in parts if p) + "\n"


def _w(item: dict[str, Any], base: str, key: str = "at", t: str = "t") -> str:
    return e(fmt.when(item[key], item[t], base))


def _section(ident: str, title: str, body: str, empty: str = "") -> str:
    return f'<section id="{ident}">\n<h2>{e(title)}</h2>\n{body or f"<p>{e(empty)}</p>"}\n</section>'


def _head(r: dict[str, Any], base: str) -> str:
    inc = r["incident"]
    heading = f"Incident {inc['id']}: {r['runbook']['title']}"
    out = [f"<header>\n<h1>{e(heading)}</h1>"]
    out.append(f'<p><span class="marking {e(inc["status"])}">{e(inc["marking"])}</span></p>')
    if inc["summary"]:
        out.append(f"<p>{e(inc['summary'])}</p>")
    torn = r["journal"]["torn_tail_bytes"]
    if torn:
        out.append(
            f'<p class="problem">The journal ends in a torn record ({torn} bytes without an end, written when the '
            "process died); this report covers every complete record before it.</p>"
        )
    return "\n".join(out) + "\n</header>"


def _summary(r: dict[str, Any], base: str) -> str:
    t, sev, rto, j = r["times"], r["severity"], r["rto"], r["journal"]
    changes = "".join(
        f"<br>{e(c['from'])} → {e(c['to'])} at {_w(c, base)} by {e(c['by'])}"
        + (f" ({e(c['reason'])})" if c["reason"] else "")
        for c in sev["changes"]
    )
    decisions = "<br>".join(
        f"<strong>{e(d['decision'])}</strong>: {e(d['reason'])} <span class=meta>({e(d['by'])}, {_w(d, base)})</span>"
        for d in r["decisions"]
    )
    breach = f"<br>breach journaled at {e(fmt.when(rto['breached_at'], '', base))}" if rto["breached_at"] else ""
    closed = (
        f"{e(fmt.stamp(t['closed_at']))} ({e(t['closed_t'])}) by {e(t['closed_by'])}"
        if t["closed_at"]
        else f"not closed (last record {e(fmt.stamp(t['as_of']))}, {e(t['as_of_t'])})"
    )
    targets = "; ".join(f"{x['scope']} {x['target_minutes']} min" for x in r["rpo"]["targets"]) or "none"
    rows = [
        ("Runbook", e(fmt.runbook_line(r["runbook"]))),
        ("Environment", e(fmt.variants(r["environment"]))),
        *([("Hosts", e(fmt.hosts_line(r["hosts"])))] if r.get("hosts") else []),
        ("Severity", e(fmt.severity_line(sev)) + changes),
        ("Trigger", e(r["trigger"])),
        ("Rollback decision", decisions or "no decision recorded"),
        ("Drove", e(fmt.seat_line(r["people"]))),
        ("Watched", e(", ".join(r["people"]["observers"]) or "no observer recorded")),
        ("Detected", e(f"{fmt.stamp(t['detected_at'])} ({t['detected_t']})")),
        ("Opened", e(f"{fmt.stamp(t['opened_at'])} by {t['opened_by']}")),
        ("Closed", closed),
        (
            "RTO",
            f"{e(fmt.rto_target(rto, base))}: "
            f'<span class="{cls(rto["verdict"])}">{e(rto["verdict"])}</span>, {e(rto["text"])}{breach}',
        ),
        ("RPO", f"{e(r['rpo']['text'])} <span class=meta>(targets: {e(targets)})</span>"),
        ("Steps", e(fmt.step_counts(r))),
        (
            "Journal",
            e(f"{j['file']}: {j['records']} records, chain {j['chain']}, last hash ")
            + f"<code>{e(j['last_hash'])}</code>; {e(j['seal']['text'])}",
        ),
    ]
    body = "<table class=kv><tbody>" + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return _section("summary", "Summary", body + "</tbody></table>")


def _timeline(r: dict[str, Any], base: str) -> str:
    rows = [
        [
            e(f"{p['number']}. {p['title']}"),
            e(fmt.phase_window(p)),
            e(f"{fmt.when(p['planned_start'], '', base)} – {fmt.when(p['planned_end'], '', base)}"),
            e(fmt.phase_actual(p)),
            e(fmt.secs(p["duration_seconds"])),
            f'<span class="{"s-ok" if p["verdict"] == "within window" else "s-late"}">{e(p["verdict"])}</span>'
            f" [{p['done']}/{p['total']}]",
        ]
        for p in r["phases"]
    ]
    note = "<p class=meta>T+0 is when the incident was opened; windows are the runbook's plan.</p>"
    body = timeline_svg(r) + "\n" + note + _preflight(r)
    body += table(["Phase", "Window", "Planned", "Actual", "Duration", "Verdict"], rows)
    return _section("timeline", "Timeline", body)


def _preflight(r: dict[str, Any]) -> str:
    gate = r.get("preflight")
    if gate is None:
        return ""
    text = e(preflight_text(gate))
    line = f"<p>{text}</p>" if gate["verdict"] == "passed" else f'<p class="s-failed"><strong>{text}</strong></p>'
    rows = [[e(c) for c in row] for row in preflight_rows(gate)]
    return line + table(["Result", "Host", "Check", "Detail"], rows)


def _steps(r: dict[str, Any], base: str) -> str:
    numbers = {p["id"]: p["number"] for p in r["phases"]}
    body = "\n".join(_step(s, numbers.get(s["phase"], 0), base) for s in r["steps"])
    if r["excluded_steps"]:
        items = "".join(f"<li><code>{e(x['id'])}</code>: {e(x['reason'])}</li>" for x in r["excluded_steps"])
        body += f"\n<p>Left out of this environment's plan:</p><ul>{items}</ul>"
    return _section("steps", "Steps", body)


def _step(step: dict[str, Any], phase: int, base: str) -> str:
    flags = [step["kind"]] + (["on " + ", ".join(step["hosts"])] if step["hosts"] else [])
    flags += [f for f in ("destructive", "optional") if step[f]]
    out = [
        f'<article class="step" id="step-{e(step["id"])}">',
        f'<div class="step-head"><h3><code>{e(step["id"])}</code> {e(step["title"])}</h3>',
        f"<p class=meta>Phase {phase} · {e(' · '.join(flags))} · "
        f'<span class="{cls(step["status"])}">{e(step["status_text"])}</span></p></div>',
    ]
    if step["skip"]:
        s = step["skip"]
        out.append(f"<p>Skipped by {e(s['by'])} at {_w(s, base)}: {e(s['reason'])}</p>")
    for group in step["per_host"] or [step]:  # per-host values: what each group of hosts ran
        if group["commands"]:
            lines = ([f"cd {group['cwd']}"] if group["cwd"] else []) + group["commands"]
            if step["per_host"]:
                out.append(f"<p class=meta>On {e(', '.join(group['hosts']))}:</p>")
            out.append(f"<pre>{e(chr(10).join(lines))}</pre>")
    checks = [
        [
            e(c["text"]),
            f'<span class="{cls(c["result"] or "pending")}">{e(c["result"] or "not ticked")}</span>',
            e(c["by"]),
            _w(c, base),
            e(c["note"]),
        ]
        for c in step["checks"]
    ]
    out.append(table(["Check", "Result", "By", "When", "Note"], checks))
    out += [_attempt(a, base) for a in step["attempts"]]
    return "\n".join(o for o in out if o) + "\n</article>"


def _attempt(a: dict[str, Any], base: str) -> str:
    ended = f", finished {fmt.when(a['finished_at'], a['finished_t'], base)}" if a["finished_at"] else ""
    took = f" in {fmt.secs(a['duration_seconds'])}" if a["duration_seconds"] is not None else ""
    confirmed = " (destructive, confirmed)" if a["confirmed"] else ""
    line = f"Attempt {a['number']}: started {fmt.when(a['started_at'], a['t'], base)} by {a['started_by']}{confirmed}"
    out = [
        f'<p><strong>{e(line + ended + took)}:</strong> <span class="{cls(a["outcome"])}">'
        f"{e(fmt.outcome(a))}</span></p>"
    ]
    if a["error"]:
        out.append(f'<p class="problem">{e(a["error"])}</p>')
    rows = [
        [
            e(h["host"]),
            f'<span class="{cls(h["status"])}">{e(h["status"])}</span>',
            e(fmt.exit_code(h["exit_code"])),
            e(fmt.secs(h["duration_seconds"])),
            e(fmt.size(h["output"]["size"])),
            f'<span class="{cls(h["output"]["check"])}">{e(fmt.output_check(h["output"]))}</span>',
            e(h["error"]),
        ]
        for h in a["hosts"]
    ]
    out.append(table(["Host", "Status", "Exit", "Duration", "Output", "Checksum", "Error"], rows))
    out += [_excerpt(h) for h in a["hosts"]]
    return "\n".join(o for o in out if o)


def _excerpt(h: dict[str, Any]) -> str:
    o = h["output"]
    out = []
    if h["facts"]:
        out.append(f"<p>Facts from {e(h['host'])}: {e(fmt.facts(h['facts']))}</p>")
    if o["problem"]:
        out.append(f'<p class="problem">{e(o["problem"])}</p>')
    if o["head"]:
        sha = f", sha256 <code>{e(o['sha256'])}</code>" if o["sha256"] else ""
        out.append(
            f"<p class=meta>Output of {e(h['host'])}: <code>{e(o['path'])}</code>, {e(fmt.size(o['size']))}, "
            f"{fmt.lines(o['total_lines'])}{sha}</p>"
        )
        text = e("\n".join(o["head"]))
        if o["omitted_lines"]:
            text += f'\n<span class="omitted">[… {o["omitted_lines"]} lines not shown …]</span>'
        if o["tail"]:
            text += "\n" + e("\n".join(o["tail"]))
        out.append(f"<pre>{text}</pre>")
    return "\n".join(out)


def _ticks(r: dict[str, Any], base: str) -> str:
    rows = [
        [
            _w(t, base),
            e(t["by"]),
            f"<code>{e(t['step'])}</code>",
            e(t["text"] or t["check"]),
            f'<span class="{cls(t["result"])}">{e(t["result"])}</span>',
            e(t["note"]),
        ]
        for t in r["ticks"]
    ]
    return _section(
        "ticks",
        "Verification ticks",
        table(["When", "By", "Step", "Check", "Result", "Note"], rows),
        "No check was ticked.",
    )


def _comms(r: dict[str, Any], base: str) -> str:
    rows = []
    for c in r["comms"]:
        status = c["status"] + (f" by {c['late_by']}" if c["late_by"] else "")
        state = "sent" if c["status"] == "sent" else "late" if c["status"] == "sent late" else c["status"]
        due = fmt.comm_due(c, base)
        note = "; ".join(x for x in (c["note"], c["result"]) if x)
        rows.append(
            [
                e(due),
                e(c["channel"]),
                e(c["to"]),
                e(c["summary"]),
                f'<span class="s-{e(state.replace(" ", "_"))}">{e(status)}</span>',
                e(fmt.when(c["sent_at"], c["sent_t"], base)),
                e(c["sent_by"]),
                e(note),
            ]
        )
    body = table(["Due", "Channel", "To", "What", "Status", "Sent", "By", "Note"], rows)
    return _section("comms", "Communications", body, "The runbook has no communication plan.")


def _activity(r: dict[str, Any], base: str) -> str:
    """The incident as the war room's activity pane showed it (the same lines: console.model.activity)."""
    rows = [[_w(a, base), e(a["who"]), f'<span class="a-{e(a["kind"])}">{e(a["text"])}</span>'] for a in r["activity"]]
    return _section("activity", "Activity", table(["When", "Who", "What"], rows) if rows else "", "Nothing happened.")


def _notes(r: dict[str, Any], base: str) -> str:
    items = "".join(
        f"<li><span class=meta>{_w(n, base)}</span> <strong>{e(n['by'])}</strong>: "
        f"{e(n['text']).replace(chr(10), '<br>')}</li>"
        for n in r["notes"]
    )
    return _section("notes", "Notes", f"<ul>{items}</ul>" if items else "", "No notes.")


def _skipped(r: dict[str, Any], base: str) -> str:
    rows = [
        [f"<code>{e(s['step'])}</code>", e(s["title"]), e(s["by"]), _w(s, base), e(s["reason"])] for s in r["skipped"]
    ]
    return _section("skipped", "Skipped steps", table(["Step", "Title", "By", "When", "Reason"], rows), "None.")


def _seat(r: dict[str, Any], base: str) -> str:
    rows = [[e(moment), e(text)] for moment, text in fmt.seat_events(r, base)]
    refusals = [[_w(x, base), e(x["by"]), e(x["role"]), e(x["command"]), e(x["reason"])] for x in r["refusals"]]
    body = (table(["When", "Change"], rows) or "<p>No seat changes.</p>") + (
        table(["When", "Who", "Role", "Command", "Refused because"], refusals) or "<p>No command was refused.</p>"
    )
    return _section("seat", "Driver seat and refusals", body)


def _warnings(r: dict[str, Any], base: str) -> str:
    rows = [
        [_w(w, base), f"<code>{e(w['step'])}</code>", e(w["attempt"]), e(w["host"]), e(w["message"])]
        for w in r["warnings"]
    ]
    return _section("warnings", "Warnings", table(["When", "Step", "Attempt", "Host", "Warning"], rows), "None.")


def _actions(r: dict[str, Any], base: str) -> str:
    items = "".join(
        f"<li><strong>{e(f['title'])}</strong><ul class=checklist>"
        + "".join(f"<li>{e(i)}</li>" for i in f["items"])
        + "</ul></li>"
        for f in r["followups"]
    )
    body = f"<ul class=checklist>{items}</ul>" if items else "<p>The runbook lists no post-rollback actions.</p>"
    if r["prevention"]:
        body += (
            "<h3>Prevention</h3><ul>"
            + "".join(f"<li><strong>{e(p['title'])}</strong>: {e(', '.join(p['items']))}</li>" for p in r["prevention"])
            + "</ul>"
        )
    contacts = [[e(c["role"]), e(c["name"]), e(c["phone"]), e(c["email"])] for c in r["contacts"]]
    if contacts:
        body += "<h3>Contacts</h3>" + table(["Role", "Name", "Phone", "E-mail"], contacts)
    j = r["journal"]
    footer = (
        f"<footer>Rebuilt by warroom from {e(j['file'])} ({j['records']} records, first hash "
        f"<code>{e(j['first_hash'][:16])}</code>, last hash <code>{e(j['last_hash'][:16])}</code>).</footer>"
    )
    return _section("actions", "Post-rollback actions", body) + "\n" + footer
