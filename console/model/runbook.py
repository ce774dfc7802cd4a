"""The runbook format: phases, steps, severity matrix, RTO/RPO, communication plan.

A runbook is data (TOML). The built-in one, ``salonmanager``, transcribes the SalonManager v1.0.0
rollback plan; any other team's runbook is another file in the same format (``--runbook PATH``).
A runbook declares the values it needs from an environment under ``[vars]``
(:mod:`console.model.variables`); steps use them as ``{{ name }}`` placeholders (double braces, so
shell braces in commands stay literal), filled in per host by :mod:`console.model.plan`.
"""

from __future__ import annotations

import difflib
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from console.model.errors import RunbookError, RunbookMissing
from console.model.kinds import KindTable
from console.model.templates import template_problem
from console.model.tomlsource import TomlSource, load_toml, parse_toml
from console.model.usage import check_secret_key, check_step_usage
from console.model.validation import FieldError, StrictModel, pattern, validate
from console.model.variables import PLACEHOLDER as PLACEHOLDER
from console.model.variables import Variable, declarations

IDENT_PATTERN = pattern(
    r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", "use letters, digits, '_', '.' and '-', starting with a letter or digit"
)
Ident = Annotated[str, StringConstraints(pattern=IDENT_PATTERN, max_length=64)]
SEVERITY_KEY = pattern(r"^P[0-9]$", "a severity is named P0 to P9")
ENV_NAME = pattern(r"^[A-Za-z_][A-Za-z0-9_]*$", "an environment variable name uses letters, digits and '_'")


class RunbookMeta(StrictModel):
    id: Ident
    title: str
    version: str
    description: str = ""
    source: str = ""
    last_updated: str = ""
    next_review: str = ""


class Variant(StrictModel):
    """A choice between alternative steps (Docker or systemd, artisan or mysql restore)."""

    description: str = ""
    options: list[Ident] = Field(min_length=1)
    default: Ident

    @model_validator(mode="after")
    def _default_is_an_option(self) -> Variant:
        if self.default not in self.options:
            raise FieldError("default", f"{self.default!r} is not one of the options ({', '.join(self.options)})")
        return self


class Severity(StrictModel):
    label: str
    response_minutes: int = Field(gt=0)
    rollback: Literal["yes", "maybe", "no"]
    rto_minutes: int = Field(gt=0)


class RpoTarget(StrictModel):
    scope: str
    target_minutes: int = Field(gt=0)
    basis: str = ""


class Check(StrictModel):
    """A manual verification the driver ticks pass, fail or not applicable."""

    id: Ident
    text: str


class Step(StrictModel):
    id: Ident
    title: str
    kind: Ident
    targets: str | None = None
    run_on: Literal["all", "one"] = "all"
    cwd: str = ""
    commands: list[str] = []
    seed: list[str] = []
    params: dict[str, Any] = {}
    timeout: int = Field(default=300, gt=0)
    destructive: bool = False
    confirm: str = ""
    variant: dict[str, Ident] = {}
    secret_env: dict[Annotated[str, StringConstraints(pattern=ENV_NAME)], str] = {}
    optional: bool = False
    sudo: bool = False
    """Run the step's commands through sudo on each host (``sudo_password`` on the host if it asks)."""
    note: str = ""
    checks: list[Check] = []


class Phase(StrictModel):
    id: Ident
    title: str
    start_minute: int = Field(ge=0)
    end_minute: int = Field(gt=0)
    steps: list[Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _window_is_forward(self) -> Phase:
        if self.end_minute <= self.start_minute:
            raise FieldError("end_minute", f"must be after start_minute ({self.start_minute}), got {self.end_minute}")
        return self


class Comm(StrictModel):
    """One line of the communication plan: due at T+N minutes, or when a condition holds."""

    id: Ident
    at_minutes: int | None = Field(default=None, ge=0)
    condition: str = ""
    audience: Literal["internal", "external"]
    channel: Ident
    to: str
    summary: str
    template: str = ""

    @model_validator(mode="after")
    def _timed_or_conditional(self) -> Comm:
        if self.at_minutes is not None and self.condition:
            raise FieldError("condition", "give exactly one of at_minutes or condition, not both")
        if self.at_minutes is None and not self.condition:
            raise ValueError("give exactly one of at_minutes (due at T+N) or condition (due when it holds)")
        return self


class FollowUp(StrictModel):
    id: Ident
    title: str
    items: list[str] = Field(min_length=1)


class Prevention(StrictModel):
    title: str
    items: list[str] = []


class Contact(StrictModel):
    role: str
    name: str = ""
    phone: str = ""
    email: str = ""


class BackupLocation(StrictModel):
    what: str
    location: str


class Runbook(StrictModel):
    runbook: RunbookMeta
    triggers: list[str] = Field(min_length=1)
    vars: dict[str, Any] = {}
    """The variables it declares (checked by :func:`console.model.variables.declarations`)."""
    variants: dict[Ident, Variant] = {}
    severity: dict[Annotated[str, StringConstraints(pattern=SEVERITY_KEY)], Severity] = Field(min_length=1)
    rpo: list[RpoTarget] = []
    phases: list[Phase] = Field(min_length=1)
    comms: list[Comm] = []
    followups: list[FollowUp] = []
    prevention: list[Prevention] = []
    contacts: list[Contact] = []
    backups: list[BackupLocation] = []

    def steps(self) -> list[tuple[int, int, Step]]:
        """Every step with its phase and step index, in runbook order."""
        return [(p, s, step) for p, phase in enumerate(self.phases) for s, step in enumerate(phase.steps)]


class LoadedRunbook:
    """A validated runbook together with its source, so later checks can still point at lines."""

    def __init__(
        self,
        model: Runbook,
        source: TomlSource,
        origin: str,
        kinds: KindTable,
        variables: dict[str, Variable] | None = None,
    ) -> None:
        self.model = model
        self.source = source
        self.origin = origin
        self.kinds = kinds
        """The step kinds it was validated against; the plan binding asks them too."""
        self.variables = variables if variables is not None else declarations(model.vars, source)
        """The declared variables by dotted name."""

    @property
    def id(self) -> str:
        return self.model.runbook.id

    @property
    def origin_ref(self) -> str:
        """How a config names this runbook: the built-in name, or the file's absolute path."""
        if self.origin.startswith("built-in:"):
            return self.origin.removeprefix("built-in:")
        return str(Path(self.origin).resolve())


RUNBOOKS = "console.model.runbooks"
"""The package whose ``*.toml`` files are the built-in runbooks."""
BUILTIN = tuple(
    sorted(r.name.removesuffix(".toml") for r in resources.files(RUNBOOKS).iterdir() if r.name.endswith(".toml"))
)
"""Built-in runbooks by name: every runbook shipped in :data:`RUNBOOKS` (``defaults.RUNBOOK`` among them)."""


def load_runbook(ref: str | Path, kinds: KindTable) -> LoadedRunbook:
    """Load a built-in runbook by name or a runbook file by path, strictly, checking every step
    against the table of step kinds (``actions.registry.KINDS``)."""
    text_ref = str(ref)
    if text_ref in BUILTIN:
        resource = resources.files(RUNBOOKS).joinpath(f"{text_ref}.toml")
        source = parse_toml(resource.read_text(encoding="utf-8"), f"<built-in runbook {text_ref}>", cls=RunbookError)
        origin = f"built-in:{text_ref}"
    else:
        path = Path(text_ref).expanduser()
        _require_file(path, text_ref)
        source = load_toml(path, cls=RunbookError)
        origin = str(path)
    model = validate(Runbook, source, cls=RunbookError)
    variables = declarations(model.vars, source)
    _check_consistency(model, source, kinds)
    for p, s, step in model.steps():
        loc = ("phases", p, "steps", s)
        check_step_usage(step, loc, variables, source)
        for param, key in kinds[step.kind].secret_keys(step.params).items():
            check_secret_key(step, loc, param, key, variables, source)
    return LoadedRunbook(model, source, origin, kinds, variables)


def _require_file(path: Path, ref: str) -> None:
    """Refuse a reference that names no file as :class:`RunbookMissing`, so that whoever named it
    (the config's ``environment.runbook``, ``--runbook``) is blamed; every later error names the file."""
    if path.is_dir():
        raise RunbookMissing(ref, "", "is a directory, not a file")
    if path.exists():
        return
    if not path.is_symlink() and "/" not in ref and path.suffix != ".toml":
        near = difflib.get_close_matches(ref, BUILTIN, n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise RunbookMissing(
            ref, "", f"no such file, and not a built-in runbook (built-in: {', '.join(BUILTIN)}){hint}"
        )
    raise RunbookMissing(ref, "", "file not found" + (" (a dangling symlink)" if path.is_symlink() else ""))


def _check_consistency(model: Runbook, source: TomlSource, kinds: KindTable) -> None:
    """Cross-field rules pydantic cannot express field by field."""
    seen_phase: set[str] = set()
    seen_step: dict[str, tuple[Any, ...]] = {}
    for p, phase in enumerate(model.phases):
        if phase.id in seen_phase:
            raise source.error(("phases", p, "id"), f"duplicate phase id {phase.id!r}", RunbookError)
        seen_phase.add(phase.id)
    for p, s, step in model.steps():
        loc = ("phases", p, "steps", s)
        if step.id in seen_step:
            raise source.error((*loc, "id"), f"duplicate step id {step.id!r}", RunbookError)
        seen_step[step.id] = loc
        action = kinds.get(step.kind)
        if action is None:
            raise source.error(
                (*loc, "kind"),
                f"unknown step kind {step.kind!r}; known kinds: {', '.join(sorted(kinds))}",
                RunbookError,
            )
        problem = action.check_step(step)
        if not problem and step.sudo and not action.runs_commands:
            problem = ("sudo", f"sudo applies to ssh steps' commands; a {step.kind} step builds its own")
        if problem:  # a field such as "params.database" is a key path
            raise source.error((*loc, *problem[0].split(".")), problem[1], RunbookError)
        for name, option in step.variant.items():
            variant = model.variants.get(name)
            if variant is None:
                raise source.error(
                    (*loc, "variant", name), f"variant {name!r} is not declared in [variants]", RunbookError
                )
            if option not in variant.options:
                raise source.error(
                    (*loc, "variant", name),
                    f"{option!r} is not an option of variant {name!r} ({', '.join(variant.options)})",
                    RunbookError,
                )
        if step.destructive and not step.confirm:
            raise source.error((*loc, "confirm"), "a destructive step needs a confirmation word", RunbookError)
        for i, check in enumerate(step.checks):
            if any(c.id == check.id for c in step.checks[:i]):
                raise source.error((*loc, "checks", i, "id"), f"duplicate check id {check.id!r}", RunbookError)
    seen_comm: set[str] = set()
    for c, comm in enumerate(model.comms):
        if comm.id in seen_comm:
            raise source.error(("comms", c, "id"), f"duplicate comms id {comm.id!r}", RunbookError)
        seen_comm.add(comm.id)
        field_name = "template" if comm.template else "summary"  # the summary is sent when there is no template
        problem = template_problem(comm.template or comm.summary)
        if problem:
            raise source.error(("comms", c, field_name), f"comms {comm.id!r}: {field_name}: {problem}", RunbookError)


def placeholders(step: Step) -> list[tuple[str, str]]:
    """``(field, placeholder)`` for every ``{{ x.y }}`` a step uses, in order."""
    found: list[tuple[str, str]] = []
    fields: list[tuple[str, str]] = [("cwd", step.cwd)]
    fields += [(f"commands[{i}]", c) for i, c in enumerate(step.commands)]
    fields += [(f"params.{k}", v) for k, v in step.params.items() if isinstance(v, str)]
    if step.targets:
        fields.append(("targets", step.targets))
    for field_name, text in fields:
        found.extend((field_name, m.group(1)) for m in PLACEHOLDER.finditer(text))
    return found
