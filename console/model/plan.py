"""Binding a runbook to a config: the exact steps, hosts and commands of one environment.

Variables resolve per target host (:mod:`console.model.render`); a step keeps its first host's
rendering and, in ``per_host``, that of each host that sees it differently.
The result, :class:`Plan`, is plain data. It is printed by ``warroom plan``, shown in
confirmations, and stored in the incident's first journal record, so the incident (and its
report) never depends on the config or runbook files changing later.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from console.model.config import LoadedConfig
from console.model.errors import RunbookError
from console.model.hosts import Target, resolve_targets
from console.model.render import StepRenderer
from console.model.rendered_credentials import refuse_rendered_credentials
from console.model.runbook import LoadedRunbook, placeholders
from console.model.secrets import Redactor

# The pseudo-host of automated steps that run on the warroom machine itself (notifications).
LOCAL_HOST = "warroom"


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
    sudo: bool = False
    """Its commands run through ``sudo`` on each host (the ssh kind)."""
    note: str = ""
    checks: tuple[tuple[str, str], ...] = ()
    secrets: dict[str, str] = field(default_factory=dict)
    """Every secret the step needs, by key (a variable or config key): its reference, never its value."""
    per_host: dict[str, dict[str, Any]] = field(default_factory=dict)
    """``{host: {cwd, commands, params, secrets}}`` for the hosts that see the step differently
    from the first (whose rendering is the step's own fields)."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlannedStep:
        data = dict(data)  # a journal from before variables has no secrets or per_host: the defaults
        for key in ("hosts", "commands", "seed"):
            data[key] = tuple(data.get(key, ()))
        data["checks"] = tuple(tuple(c) for c in data.get("checks", ()))
        return cls(**data)

    def for_host(self, host: str) -> PlannedStep:
        """The step as ``host`` sees it (its own cwd, commands, params and secrets)."""
        own = self.per_host.get(host)
        if own is None:
            return replace(self, per_host={}) if self.per_host else self
        return replace(
            self,
            per_host={},
            cwd=own.get("cwd", self.cwd),
            commands=tuple(own.get("commands", self.commands)),
            params=dict(own.get("params", self.params)),
            secrets=dict(own.get("secrets", self.secrets)),
        )

    def renderings(self) -> list[PlannedStep]:
        """The step once per group of hosts that see it identically, each narrowed to its hosts
        (in host order); one entry, the step itself, when every host sees the same."""
        if not self.per_host:
            return [self]
        groups: dict[str, list[str]] = {}
        seen: list[tuple[Any, str]] = []  # (a host's own view, or None for the first's; its first host)
        for host in self.hosts:
            view = self.per_host.get(host)
            first = next((h for v, h in seen if v == view), None)
            if first is None:
                seen.append((view, host))
                groups[host] = [host]
            else:
                groups[first].append(host)
        return [replace(self.for_host(first), hosts=tuple(hosts)) for first, hosts in groups.items()]


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
        """As journaled: a field added later is left out while it holds its default, so a plan
        without bastions or sudo is recorded byte for byte as before (and its hash chain too)."""
        data = asdict(self)
        for target in data["targets"].values():
            _drop_defaults(target, LATER_TARGET_FIELDS)
        for step in data["steps"].values():
            _drop_defaults(step, LATER_STEP_FIELDS)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        return cls(
            runbook=data["runbook"],
            environment=data["environment"],
            variants=data["variants"],
            phases=tuple(PlannedPhase(**{**p, "steps": tuple(p["steps"])}) for p in data["phases"]),
            steps={k: PlannedStep.from_dict(v) for k, v in data["steps"].items()},
            targets={k: Target.from_dict(v) for k, v in data["targets"].items()},
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


LATER_TARGET_FIELDS = {"jump": None, "alias": "", "passphrase": "", "sudo_password": ""}
LATER_STEP_FIELDS = {"sudo": False}


def _drop_defaults(data: dict[str, Any], fields: dict[str, Any]) -> None:
    for name, default in fields.items():
        if name in data and data[name] == default:
            del data[name]
    if isinstance(data.get("jump"), dict):
        _drop_defaults(data["jump"], fields)


def build_plan(runbook: LoadedRunbook, config: LoadedConfig) -> Plan:
    """Resolve variants, targets and variables per host; every dangling reference is an error here."""
    rb, cfg = runbook.model, config.model
    variants = _choose_variants(runbook, config)
    resolved = resolve_targets(config, set(cfg.hosts))
    renderer = StepRenderer(runbook, config, {name: t.user for name, t in resolved.items()})
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
                hosts = _resolve_targets(runbook, config, loc, step.id, renderer.targets(step, loc))
                if step.run_on == "one":
                    hosts = hosts[:1]
                used_hosts.update(hosts)
            _refuse_credentials(runbook, loc, step.id, [step.cwd, *step.commands, *map(str, step.params.values())])
            renders = {h: renderer.render(step, loc, h) for h in hosts if h in cfg.hosts}
            first = next(iter(renders.values()), None) or renderer.render(step, loc, None)
            for host, rendering in renders.items() or [(None, first)]:
                refuse_rendered_credentials(runbook, config, loc, step, host, rendering, renderer.values(host))
            steps[step.id] = PlannedStep(
                id=step.id,
                title=step.title,
                kind=step.kind,
                phase=phase.id,
                automated=action.automated,
                hosts=hosts,
                cwd=first["cwd"],
                commands=first["commands"],
                seed=tuple(step.seed),
                params=first["params"],
                timeout=step.timeout,
                destructive=step.destructive,
                confirm=step.confirm,
                secret_env=dict(step.secret_env),
                optional=step.optional,
                sudo=step.sudo,
                note=step.note,
                checks=tuple((c.id, c.text) for c in step.checks),
                secrets=first["secrets"],
                per_host={h: r for h, r in renders.items() if r != first},
            )
            ids.append(step.id)
        phases.append(PlannedPhase(phase.id, phase.title, phase.start_minute, phase.end_minute, tuple(ids)))
    reached = {hop.name for name in used_hosts if name in resolved for hop in resolved[name].chain()}
    targets = {name: t for name, t in resolved.items() if name in used_hosts or name in reached}
    contacts = [c.model_dump() for c in (cfg.contacts or rb.contacts)]
    return Plan(
        runbook={**rb.runbook.model_dump(), "origin": runbook.origin, "sha256": runbook_digest(runbook)},
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


def runbook_digest(runbook: LoadedRunbook) -> str:
    """The runbook's text, hashed: its incidents' durations are history for the same text only."""
    return hashlib.sha256(runbook.source.text.encode()).hexdigest()


def needed_secrets(plan: Plan) -> list[tuple[str, str, str]]:
    """``(step id, key, reference)`` of every secret the plan's steps need (each host's too),
    in plan order without repeats: what must resolve before an incident's first step."""
    found: dict[tuple[str, str, str], None] = {}
    for step in plan.ordered_steps():
        for rendering in step.renderings():
            for key, ref in rendering.secrets.items():
                found[(step.id, key, ref)] = None
    return list(found)


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


__all__ = [
    "LOCAL_HOST",
    "Plan",
    "PlannedPhase",
    "PlannedStep",
    "Target",
    "build_plan",
    "needed_secrets",
    "placeholders",
]
