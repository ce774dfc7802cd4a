"""``warroom plan``: the whole resolved runbook as text, touching nothing."""

from __future__ import annotations

from typing import Any

from console.model.kinds import KindTable
from console.model.plan import Plan, PlannedStep


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


def render_plan(plan: Plan, kinds: KindTable, severity: str | None = None) -> str:
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
