"""RPO: the age of the backup a step restored, from the facts it journaled, against the target.

Step kinds record what they established as ``facts`` per host. A backup is recognised by any of
these keys, flat with a ``backup_`` prefix or inside a ``backup`` object (as the mysql kind writes
it): ``name`` / ``file`` / ``path`` (or a string ``backup``, or the storage kind's ``archive``),
``age_seconds`` / ``age_minutes`` (its age when found), or ``created_at`` / ``time`` / ``mtime``
(ISO 8601; the age is then counted to the start of the attempt). It counts as restored when the
facts say ``restored``, else when the host succeeded at anything but finding or checking.
``rpo_scope`` (or ``scope``) picks the runbook's RPO target by name; otherwise a storage step is
held against a storage/file target and anything else against the data target; the step's own
``rpo_minutes`` is the fallback when the runbook has no target.
"""

from __future__ import annotations

from typing import Any

from console.model.ages import age_seconds, age_text
from console.model.clock import parse_iso
from console.model.state import IncidentState

NAMES = ("name", "file", "path")
NOT_RESTORING = ("find-backup", "find", "preflight", "check", "verify")
TIMES = ("created_at", "time", "mtime", "taken_at")


def backup_fact(facts: dict[str, Any], started_at: str) -> dict[str, Any] | None:
    """``{name, age_seconds, created_at}`` of a restored backup, or None if the facts hold none."""
    nested = facts.get("backup") if isinstance(facts.get("backup"), dict) else {}
    flat = {k[len("backup_") :]: v for k, v in facts.items() if k.startswith("backup_")}
    for key in ("backup", "archive"):
        if isinstance(facts.get(key), str):
            flat.setdefault("name", facts[key])
    fields = {**flat, **nested}
    name = next((str(fields[k]) for k in NAMES if isinstance(fields.get(k), str)), "")
    created = next((fields[k] for k in TIMES if isinstance(fields.get(k), str)), "")
    age = _number(fields.get("age_seconds"))
    if age is None and _number(fields.get("age_minutes")) is not None:
        age = _number(fields.get("age_minutes")) * 60  # type: ignore[operator]
    if age is None and created:
        try:
            age = round((parse_iso(started_at) - parse_iso(created)).total_seconds(), 3)
        except ValueError:
            age = None
    if not name and age is None and not created:
        return None
    return {"name": name, "age_seconds": age, "created_at": created}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _target(targets: list[dict[str, Any]], step_id: str, kind: str, facts: dict[str, Any]) -> dict[str, Any] | None:
    wanted = str(facts.get("rpo_scope") or facts.get("scope") or "").lower()
    storage = "storage" in step_id or kind == "storage"
    for match in (
        lambda scope: wanted and wanted in scope,
        lambda scope: storage and ("storage" in scope or "file" in scope),
        lambda scope: not storage and ("data" in scope or "database" in scope),
    ):
        found = next((t for t in targets if match(t["scope"].lower())), None)
        if found:
            return found
    return targets[0] if targets else None


def rpo_section(state: IncidentState) -> dict[str, Any]:
    assert state.plan is not None
    targets = [
        {"scope": r["scope"], "target_minutes": r["target_minutes"], "basis": r.get("basis", "")}
        for r in state.plan.rpo
    ]
    backups = []
    for planned in state.plan.ordered_steps():
        for attempt in state.steps[planned.id].attempts:
            for host, result in attempt.results.items():
                facts = result.get("facts") or {}
                fact = backup_fact(facts, attempt.started_at)
                if fact is None:
                    continue
                target = _target(targets, planned.id, planned.kind, facts)
                if target is None and _number(facts.get("rpo_minutes")) is not None:
                    target = {"scope": f"step {planned.id}", "target_minutes": int(facts["rpo_minutes"])}
                backups.append(_judge(fact, target) | {"step": planned.id, "attempt": attempt.number, "host": host})
                backups[-1]["restored"] = _restored(facts, result.get("status") == "ok")
    return {"targets": targets, "backups": backups, "text": _summary(backups)}


def _restored(facts: dict[str, Any], ok: bool) -> bool:
    if isinstance(facts.get("restored"), bool):
        return facts["restored"]
    return ok and facts.get("operation") not in NOT_RESTORING


def _summary(backups: list[dict[str, Any]]) -> str:
    restored = [b for b in backups if b["restored"]]
    aged = [b for b in restored if b["age_seconds"] is not None]
    text = "; ".join(f"{b['name'] or 'backup'} restored by {b['step']} on {b['host']}: {b['text']}" for b in aged)
    if aged:
        return text
    names = ", ".join(dict.fromkeys(b["name"] for b in restored if b["name"]))
    found = ", ".join(dict.fromkeys(b["name"] for b in backups if not b["restored"] and b["name"]))
    text = "no backup age recorded"
    if names:
        text += f" (restored without an age: {names})"
    elif found:
        text += f" for a restore (found, not restored: {found})"
    return text


def _judge(fact: dict[str, Any], target: dict[str, Any] | None) -> dict[str, Any]:
    age = fact["age_seconds"]
    found = fact | {"scope": target["scope"] if target else "", "target_minutes": None, "verdict": "unknown"}
    if target is None:
        return found | {
            "text": "no RPO target in the runbook" if age is None else f"{age_text(age)} old, no RPO target"
        }
    limit = target["target_minutes"] * 60
    found["target_minutes"] = target["target_minutes"]
    if age is None:
        return found | {"text": f"age not recorded (target {target['target_minutes']} min, {target['scope']})"}
    if age_seconds(age) <= limit:  # judged on the whole seconds the text shows
        return found | {
            "verdict": "met",
            "text": f"{age_text(age)} old, within the {target['scope']} RPO of {target['target_minutes']} min",
        }
    return found | {
        "verdict": "missed",
        "text": f"{age_text(age)} old: over the {target['scope']} RPO of {target['target_minutes']} min "
        f"by {age_text(age - limit)}",
    }
