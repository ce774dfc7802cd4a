"""Binding a runbook to a config: the exact steps, hosts and commands of one environment.

The result, :class:`Plan`, is plain data. It is printed by ``warroom plan``, shown in
confirmations, and stored in the incident's first journal record, so the incident (and its
report) never depends on the config or runbook files changing later.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

from pydantic import BaseModel

from console.model.config import SECRET_FIELDS, LoadedConfig
from console.model.errors import RunbookError
from console.model.runbook import PLACEHOLDER, LoadedRunbook, Step, placeholders
from console.model.secrets import Redactor, lookup

# The pseudo-host of automated steps that run on the warroom machine itself (notifications).
LOCAL_HOST = "warroom"


@dataclass(frozen=True)
class Target:
    """A host as the config describes it, resolved for connecting."""

    name: str
    address: str
    port: int
    user: str
    identity_file: str | None
    known_hosts: str
    connect_timeout: float = 10.0
    keepalive: int = 15


@dataclass(frozen=True)
class PlannedStep:
    id: str
    title: str
    kind: str
    phase: str
    automated: bool
    hosts: tuple[str, ...]
    cwd: str = ""
    commands: tuple[str, ...] = ()
    seed: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    timeout: int = 300
    destructive: bool = False
    confirm: str = ""
    secret_env: dict[str, str] = field(default_factory=dict)
    optional: bool = False
    note: str = ""
    checks: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlannedStep:
        data = dict(data)
        for key in ("hosts", "commands", "seed"):
            data[key] = tuple(data.get(key, ()))
        data["checks"] = tuple(tuple(c) for c in data.get("checks", ()))
        return cls(**data)


@dataclass(frozen=True)
class PlannedPhase:
    id: str
    title: str
    start_minute: int
    end_minute: int
    steps: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    runbook: dict[str, Any]
    environment: str
    variants: dict[str, str]
    phases: tuple[PlannedPhase, ...]
    steps: dict[str, PlannedStep]
    targets: dict[str, Target]
    severity: dict[str, dict[str, Any]]
    triggers: tuple[str, ...] = ()
    rpo: tuple[dict[str, Any], ...] = ()
    comms: tuple[dict[str, Any], ...] = ()
    followups: tuple[dict[str, Any], ...] = ()
    prevention: tuple[dict[str, Any], ...] = ()
    contacts: tuple[dict[str, Any], ...] = ()
    backups: tuple[dict[str, Any], ...] = ()
    excluded: tuple[tuple[str, str], ...] = ()

    def ordered_steps(self) -> list[PlannedStep]:
        return [self.steps[s] for phase in self.phases for s in phase.steps]

    def phase_of(self, step_id: str) -> PlannedPhase:
        return next(p for p in self.phases if step_id in p.steps)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        return cls(
            runbook=data["runbook"],
            environment=data["environment"],
            variants=data["variants"],
            phases=tuple(PlannedPhase(**{**p, "steps": tuple(p["steps"])}) for p in data["phases"]),
            steps={k: PlannedStep.from_dict(v) for k, v in data["steps"].items()},
            targets={k: Target(**v) for k, v in data["targets"].items()},
            severity=data["severity"],
            triggers=tuple(data.get("triggers", ())),
            rpo=tuple(data.get("rpo", ())),
            comms=tuple(data.get("comms", ())),
            followups=tuple(data.get("followups", ())),
            prevention=tuple(data.get("prevention", ())),
            contacts=tuple(data.get("contacts", ())),
            backups=tuple(data.get("backups", ())),
            excluded=tuple(tuple(e) for e in data.get("excluded", ())),
        )


def build_plan(runbook: LoadedRunbook, config: LoadedConfig) -> Plan:
    """Resolve variants, targets and placeholders; every dangling reference is an error here."""
    rb, cfg = runbook.model, config.model
    variants = _choose_variants(runbook, config)
    steps: dict[str, PlannedStep] = {}
    phases: list[PlannedPhase] = []
    excluded: list[tuple[str, str]] = []
    used_hosts: set[str] = set()
    for p, phase in enumerate(rb.phases):
        ids: list[str] = []
        for s, step in enumerate(phase.steps):
            loc = ("phases", p, "steps", s)
            mismatch = [f"{k} = {v}" for k, v in step.variant.items() if variants[k] != v]
            if mismatch:
                excluded.append((step.id, f"only when {', '.join(mismatch)}"))
                continue
            action = runbook.kinds[step.kind]
            hosts: tuple[str, ...] = (LOCAL_HOST,) if action.automated and not action.needs_targets else ()
            if step.targets:
                hosts = _resolve_targets(
                    runbook, config, loc, step.id, _render(step.targets, config, runbook, (*loc, "targets"), step.id)
                )
                if step.run_on == "one":
                    hosts = hosts[:1]
                used_hosts.update(hosts)
            for key in step.secret_env.values():
                _check_secret_key(runbook, config, loc, step.id, key)
            _refuse_credentials(runbook, loc, step.id, [step.cwd, *step.commands, *map(str, step.params.values())])
            steps[step.id] = PlannedStep(
                id=step.id,
                title=step.title,
                kind=step.kind,
                phase=phase.id,
                automated=action.automated,
                hosts=hosts,
                cwd=_render(step.cwd, config, runbook, (*loc, "cwd"), step.id),
                commands=tuple(
                    _render(c, config, runbook, (*loc, "commands", i), step.id) for i, c in enumerate(step.commands)
                ),
                seed=tuple(step.seed),
                params=_params(runbook, config, loc, step),
                timeout=step.timeout,
                destructive=step.destructive,
                confirm=step.confirm,
                secret_env=dict(step.secret_env),
                optional=step.optional,
                note=step.note,
                checks=tuple((c.id, c.text) for c in step.checks),
            )
            ids.append(step.id)
        phases.append(PlannedPhase(phase.id, phase.title, phase.start_minute, phase.end_minute, tuple(ids)))
    targets = {
        name: Target(
            name=name,
            address=h.address,
            port=h.port,
            user=h.user,
            identity_file=os.path.expanduser(h.identity_file) if h.identity_file else None,
            known_hosts=os.path.expanduser(h.known_hosts),
            connect_timeout=h.connect_timeout,
            keepalive=h.keepalive,
        )
        for name, h in cfg.hosts.items()
        if name in used_hosts
    }
    contacts = [c.model_dump() for c in (cfg.contacts or rb.contacts)]
    return Plan(
        runbook={**rb.runbook.model_dump(), "origin": runbook.origin},
        environment=cfg.environment.name,
        variants=variants,
        phases=tuple(phases),
        steps=steps,
        targets=targets,
        severity={k: v.model_dump() for k, v in sorted(rb.severity.items())},
        triggers=tuple(rb.triggers),
        rpo=tuple(r.model_dump() for r in rb.rpo),
        comms=tuple(c.model_dump() for c in rb.comms),
        followups=tuple(f.model_dump() for f in rb.followups),
        prevention=tuple(p.model_dump() for p in rb.prevention),
        contacts=tuple(contacts),
        backups=tuple(b.model_dump() for b in rb.backups),
        excluded=tuple(excluded),
    )


def _params(runbook: LoadedRunbook, config: LoadedConfig, loc: tuple, step: Step) -> dict[str, Any]:
    """The step's params rendered, and checked by its kind now: a value that only a placeholder
    gave (``rpo_minutes = "{{ database.rpo }}"``) is judged here, so ``warroom check`` and
    ``warroom plan`` refuse a bad one before any incident rather than the step failing in one."""
    held = [k for k, v in step.params.items() if isinstance(v, str) and PLACEHOLDER.search(v)]
    rendered = {
        k: _render(v, config, runbook, (*loc, "params", k), step.id) if isinstance(v, str) else v
        for k, v in step.params.items()
    }
    kind = runbook.kinds[step.kind]
    rendered = kind.rendered_params(rendered, held)
    problem = kind.check_rendered(rendered, step.timeout)
    if problem:
        raise runbook.source.error((*loc, "params"), f"step {step.id!r}: {problem} (once rendered)", RunbookError)
    return rendered


def _refuse_credentials(runbook: LoadedRunbook, loc: tuple, step_id: str, texts: list[str]) -> None:
    """A plan is journaled and shown as it is; credentials in it would leak, and masking them
    would change what runs. Secrets go through ``secret_env`` or a kind's own secret fields."""
    check = Redactor()
    for text in texts:
        if check.has_credentials(text):
            raise runbook.source.error(
                loc, f"step {step_id!r} has credentials written in a URL; pass them through secret_env", RunbookError
            )


def _choose_variants(runbook: LoadedRunbook, config: LoadedConfig) -> dict[str, str]:
    declared = runbook.model.variants
    chosen = {name: v.default for name, v in declared.items()}
    for name, value in config.model.variants.items():
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise config.error(
                ("variants", name),
                f"runbook {runbook.id!r} has no variant {name!r} (it declares: {known})",
            )
        if value not in declared[name].options:
            raise config.error(
                ("variants", name),
                f"{value!r} is not an option of {name!r} ({', '.join(declared[name].options)})",
            )
        chosen[name] = value
    return chosen


def _resolve_targets(runbook, config, loc, step_id: str, name: str) -> tuple[str, ...]:
    cfg = config.model
    if name in cfg.groups:
        return tuple(cfg.groups[name])
    if name in cfg.hosts:
        return (name,)
    known = ", ".join(sorted([*cfg.groups, *cfg.hosts])) or "none"
    raise config.error(
        ("groups", name),
        f"runbook {runbook.id!r} step {step_id!r} targets {name!r}, which is neither a group "
        f"nor a host here (defined: {known})",
    )


def _render(text: str, config: LoadedConfig, runbook: LoadedRunbook, loc: tuple, step_id: str) -> str:
    def value(match) -> str:
        key = match.group(1)
        if key.split(".")[-1] in SECRET_FIELDS and key.split(".")[0] in ("database", "notify"):
            raise runbook.source.error(
                loc, f"step {step_id!r} reads secret {key!r} in a command; use secret_env", RunbookError
            )
        try:
            found = lookup(config.model, key)
        except KeyError:
            raise config.error(
                tuple(key.split(".")), f"missing: needed by runbook {runbook.id!r} step {step_id!r} ({{{{ {key} }}}})"
            ) from None
        if isinstance(found, list) and not any(isinstance(v, BaseModel | dict | list) for v in found):
            return " ".join(str(v) for v in found)
        if isinstance(found, BaseModel | dict | list):
            raise runbook.source.error(loc, f"placeholder {key!r} names a table, not a value", RunbookError)
        return str(found)

    return PLACEHOLDER.sub(value, text)


def _check_secret_key(runbook, config, loc, step_id: str, key: str) -> None:
    try:
        lookup(config.model, key)
    except KeyError:
        raise config.error(
            tuple(key.split(".")), f"missing: secret needed by runbook {runbook.id!r} step {step_id!r}"
        ) from None
    if key.split(".")[-1] not in SECRET_FIELDS:
        raise runbook.source.error((*loc, "secret_env"), f"{key!r} is not a secret field", RunbookError)


__all__ = ["LOCAL_HOST", "Plan", "PlannedPhase", "PlannedStep", "Target", "build_plan", "placeholders"]
