"""``warroom plan``: the whole resolved runbook as text, touching nothing."""

from __future__ import annotations

from typing import Any

from console.model.kinds import KindTable
from console.model.plan import Plan, PlannedStep
from console.model.projection import basis, by_phase, step_estimates
from console.model.score import clock


def planned_commands(step: PlannedStep, kinds: KindTable) -> list[Any]:
    """What a step would run, from its kind, each host with its own rendering (in host order):
    the one source of ``plan``, confirmations and previews."""
    found = [c for rendering in step.renderings() for c in kinds[step.kind]().plan(rendering)]
    order = {host: i for i, host in enumerate(step.hosts)}
    return sorted(found, key=lambda c: order.get(c.host, len(order)))


def host_lines(plan: Plan) -> list[str]:
    """Every host as it will be reached: the resolved login, the bastion chain, the alias it was
    resolved from, and what a bastion serves (the plan, the check table and the report agree)."""
    if not plan.targets:
        return []
    served: dict[str, list[str]] = {}
    for target in plan.targets.values():
        if target.jump is not None:
            served.setdefault(target.jump.name, []).append(target.name)
    width = max(len(name) for name in plan.targets)
    out = ["Hosts:"]
    for name, target in plan.targets.items():
        notes = [f"ssh_config alias {target.alias}"] if target.alias else []
        if name in served:
            notes.append(f"bastion for {', '.join(served[name])}")
        out.append(f"  {name:<{width}}  {target.route()}" + (f"  ({'; '.join(notes)})" if notes else ""))
    return out


def _minutes(value: int) -> str:
    return f"{value // 60} h" if value >= 60 and value % 60 == 0 else f"{value} min"


def projection_text(plan: Plan, history: dict[str, Any], severity: str) -> list[str]:
    """Each phase's expected duration (from history, else its window) and the finish against the RTO."""
    rto = plan.severity[severity]["rto_minutes"] * 60
    estimates = step_estimates(plan, history)
    out = ["", f"Projection against the {severity} RTO ({_minutes(rto // 60)}), {basis(estimates, history)}:"]
    expected = fastest = slowest = 0.0
    width = max((len(p.title) for p in plan.phases), default=0)
    for number, phase in enumerate(by_phase(plan, history), start=1):
        expected, fastest, slowest = expected + phase.expected, fastest + phase.fastest, slowest + phase.slowest
        seen = f"{clock(phase.fastest)}–{clock(phase.slowest)}" if phase.slowest - phase.fastest >= 1 else ""
        mine = basis({s: estimates[s] for s in phase.phase.steps}, history)
        out.append(
            f"  {number} {phase.phase.title:<{width}}  {clock(phase.expected):>7}  {seen:<15}"
            f"  done by T+{clock(expected):<8} {mine}"
        )
    verdict = (
        f"within the RTO, {clock(rto - expected)} to spare"
        if expected <= rto
        else f"over the RTO by {clock(expected - rto)}"
    )
    out.append(f"  Projected finish T+{clock(expected)}: {verdict}")
    if slowest - fastest >= 1:
        out.append(f"  Range seen: T+{clock(fastest)} (fastest) to T+{clock(slowest)} (slowest)")
    return out


def render_plan(
    plan: Plan, kinds: KindTable, severity: str | None = None, history: dict[str, Any] | None = None
) -> str:
    """Each step's commands come from its kind (``kinds``), exactly as they would run."""
    rb = plan.runbook
    out: list[str] = []
    out.append(f"{rb['title']} — runbook {rb['id']} {rb['version']} ({rb['origin']})")
    out.append(f"Environment: {plan.environment}")
    if plan.variants:
        out.append("Variants: " + ", ".join(f"{k} = {v}" for k, v in plan.variants.items()))
    out.extend(host_lines(plan))
    out.append("")
    out.append("Severity (decision matrix):")
    width = max((len(sev["label"]) for sev in plan.severity.values()), default=0)
    for key, sev in plan.severity.items():
        mark = "▶" if key == severity else " "
        out.append(
            f" {mark} {key} {sev['label']:<{width}} respond < {_minutes(sev['response_minutes']):<7} "
            f"rollback: {sev['rollback']:<5} RTO {_minutes(sev['rto_minutes'])}"
        )
    if plan.rpo:
        out.append("RPO: " + "; ".join(f"{r['scope']} < {_minutes(r['target_minutes'])}" for r in plan.rpo))
    if plan.triggers:
        out.append("Rollback triggers: " + "; ".join(plan.triggers))
    if severity is not None and history is not None:
        out.extend(projection_text(plan, history, severity))
    for number, phase in enumerate(plan.phases, start=1):
        out.append("")
        out.append(f"Phase {number}  {phase.title}  [T+{phase.start_minute} – T+{phase.end_minute} min]")
        for index, step_id in enumerate(phase.steps, start=1):
            step = plan.steps[step_id]
            flags = []
            if step.destructive:
                flags.append(f"DESTRUCTIVE, confirm with {step.confirm!r}")
            if step.optional:
                flags.append("optional")
            if step.sudo:
                flags.append("runs with sudo")
            where = f", {len(step.hosts)} host{'s' if len(step.hosts) != 1 else ''}" if step.hosts else ""
            timeout = f", timeout {step.timeout}s" if step.automated else ""
            out.append(f"  {number}.{index} {step.id}: {step.title} ({step.kind}{where}{timeout})")
            if flags:
                out.append(f"      ⚠ {'; '.join(flags)}")
            for command in planned_commands(step, kinds):
                out.append(f"      {command.host}$ {command.text}")
            if step.kind != "ssh":
                out.extend(f"      runbook: {line}" for line in step.seed)
            for _, text in step.checks:
                out.append(f"      [ ] {text}")
            if step.note:
                out.append(f"      note: {step.note}")
    if plan.excluded:
        out.append("")
        out.append("Not in this environment:")
        out.extend(f"  - {step_id} ({why})" for step_id, why in plan.excluded)
    if plan.comms:
        out.append("")
        out.append("Communication plan:")
        for comm in plan.comms:
            when = f"T+{comm['at_minutes']} min" if comm["at_minutes"] is not None else f"if {comm['condition']}"
            out.append(f"  {when:<22} {comm['channel']:<10} {comm['to']:<16} {comm['summary']}")
    if plan.followups:
        out.append("")
        out.append("Post-rollback actions:")
        for item in plan.followups:
            out.append(f"  [ ] {item['title']}: {'; '.join(item['items'])}")
    if plan.contacts:
        out.append("")
        out.append("Contacts:")
        for c in plan.contacts:
            reach = ", ".join(x for x in (c.get("phone"), c.get("email")) if x)
            out.append(f"  {c['role']:<18} {c.get('name', ''):<14} {reach}")
    if plan.backups:
        out.append("")
        out.append("Backup locations:")
        out.extend(f"  {b['what']:<18} {b['location']}" for b in plan.backups)
    return "\n".join(out) + "\n"
