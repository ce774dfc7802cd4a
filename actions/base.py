"""The one interface every step kind implements, and the data it works on.

``plan()`` says exactly what would run on which host (for ``warroom plan``, previews and
confirmations) without touching anything; ``run()`` does it, streaming output through the
context's sinks and honouring cancellation and the step's timeout.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from actions.params import ParamError, StepParams, UnknownParams, literal, parse
from console.model.errors import ActionError
from console.model.plan import LOCAL_HOST as LOCAL_HOST  # re-exported for the step kinds
from console.model.plan import Target as Target

if TYPE_CHECKING:
    from console.model.plan import PlannedStep
    from console.model.runbook import Step

HostStatus = Literal["ok", "failed", "timed_out", "cancelled", "error"]


@dataclass(frozen=True)
class PlannedCommand:
    host: str
    text: str


@dataclass
class HostOutcome:
    """What one host did for one step attempt."""

    host: str
    status: HostStatus
    exit_code: int | None = None
    error: str = ""
    bytes: int = 0
    sha256: str = ""
    duration: float = 0.0
    facts: dict[str, Any] = field(default_factory=dict)
    """What the step established on this host, for the journal and the report (JSON values only):
    e.g. the backup restored and its age, rows per table, the checked-out tag, HTTP latency."""

    def to_dict(self) -> dict[str, Any]:
        data = {
            "host": self.host,
            "status": self.status,
            "exit_code": self.exit_code,
            "error": self.error,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "duration": round(self.duration, 3),
        }
        if self.facts:
            data["facts"] = self.facts
        return data


class OutputSink(Protocol):
    """Where a host's output goes: spooled in full, redacted, batched to watchers."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> tuple[int, str]: ...


class StepContext(Protocol):
    step: PlannedStep
    targets: list[Target]
    cancelled: asyncio.Event

    def secret(self, key: str) -> str: ...

    def sink(self, host: str) -> OutputSink: ...

    def progress(self, host: str, done: float, total: float | None, unit: str = "bytes", label: str = "") -> None:
        """Transient progress (a restore's bytes, a health check's attempts); not journaled."""

    def warn(self, host: str, message: str) -> None:
        """A journaled warning that does not fail the step (an old backup, a failed notification)."""

    def remote_started(self, host: str, pgid: int) -> None:
        """Journal the remote process group of a host's command, so that after a crash a retry can
        check whether the interrupted command is still running there."""

    @property
    def connections(self) -> Any: ...

    @property
    def config(self) -> Any:
        """The validated config model (``console.model.config.Config``), for typed step kinds."""


@dataclass(frozen=True)
class Probe:
    """One read-only check a step needs on one host, run by the preflight gate before an incident
    opens. ``run`` returns what it found (shown in the table) or raises a
    :class:`~console.model.errors.WarroomError` whose one line says what to fix
    (:class:`~console.model.errors.CheckWarning` for a finding that does not stop the run)."""

    host: str
    check: str
    """What is checked, as the table shows it; the gate runs a check once per host however many
    steps ask for it."""
    run: Callable[[], Awaitable[str]]
    needs: tuple[str, ...] = ()
    """Config keys of the secrets it uses: not tried (and said so) when one does not resolve."""


class PreflightContext(Protocol):
    """What a step kind sees of the gate: the step, its hosts (already reached), the gate's
    connections and the config. Nothing here can write a journal or an output spool."""

    step: PlannedStep
    targets: list[Target]
    cancelled: asyncio.Event

    def secret(self, key: str) -> str: ...

    @property
    def connections(self) -> Any: ...

    @property
    def config(self) -> Any: ...


@dataclass
class StepRun:
    """The result of ``Action.run``: one outcome per targeted host."""

    outcomes: dict[str, HostOutcome] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.outcomes) and all(o.status == "ok" for o in self.outcomes.values())


class Action(ABC):
    """A step kind: one entry of the explicit table :data:`actions.registry.KINDS`."""

    kind: ClassVar[str]
    automated: ClassVar[bool] = True
    needs_targets: ClassVar[bool] = True
    params_model: ClassVar[type[StepParams]]
    """The step's ``params`` as one typed model (:class:`actions.params.NoParams` for a kind
    whose commands or checks say it all, so a stray key is refused rather than ignored)."""
    unknown_params: ClassVar[str] = "unknown {kind} parameter(s) {names}; known: {known}"
    """How an unknown key is worded: {kind}, {names} (sorted), {known} (the model's order), {first}
    (the first unknown, quoted) and {sorted_known}."""
    runs_commands: ClassVar[bool] = False
    """The step's own ``commands`` are what it runs (ssh); other kinds build theirs from params."""
    commands_hint: ClassVar[str] = "a {kind} step builds its own commands; use params ({known})"
    """What a step of a kind that builds its own commands hears when it gives some ({kind}, {known} sorted)."""
    secret_params: ClassVar[tuple[str, ...]] = ()
    """Params whose value names a secret variable (never a secret): the plan records the reference."""
    unknown_first: ClassVar[bool] = False
    """Unknown params are reported before commands given (git and storage, as they always were)."""

    @classmethod
    def secret_keys(cls, params: dict[str, Any]) -> dict[str, str]:
        """``{param: secret variable name}`` for :attr:`secret_params`, given or by default."""
        found: dict[str, str] = {}
        for name in cls.secret_params:
            value = params.get(name, cls.params_model.model_fields[name].default)
            if isinstance(value, str) and value:
                found[name] = value
        return found

    @classmethod
    def check_step(cls, step: Step) -> tuple[str, str] | None:
        """Static checks of a runbook step; returns ``(field, problem)`` or None."""
        if cls.needs_targets and not step.targets:
            return ("targets", f"a {cls.kind} step needs targets (a host or group name)")
        return cls.check_params(step)

    @classmethod
    def check_params(cls, step: Step) -> tuple[str, str] | None:
        """The params against the kind's model, placeholders left for the plan; a kind that builds
        its own commands may not be given any."""
        hint = None
        if step.commands and not cls.runs_commands:
            known = ", ".join(sorted(cls.params_model.known()))
            hint = ("commands", cls.commands_hint.format(kind=cls.kind, known=known))
            if not cls.unknown_first:
                return hint
        try:
            cls.parse_params(step.params, step.timeout, rendered=False)
        except ParamError as exc:
            return cls.param_problem(exc)
        return hint

    @classmethod
    def param_problem(cls, exc: ParamError) -> tuple[str, str]:
        """A params problem found at load as ``(field, problem)``, worded as the kind always has."""
        return ("params", cls.problem_text(exc))

    @classmethod
    def problem_text(cls, exc: ParamError) -> str:
        """A params problem in the kind's words, the same at load and once rendered (the plan adds
        "(once rendered)")."""
        return str(exc)

    @classmethod
    def parse_params(cls, params: dict[str, Any], timeout: float, *, rendered: bool = True) -> Any:
        """``params`` as the kind's model (None at load when only placeholders stood in the way)."""
        try:
            return parse(cls.params_model, params, timeout=timeout, rendered=rendered)
        except UnknownParams as exc:
            names = sorted(exc.names)
            text = cls.unknown_params.format(
                kind=cls.kind,
                names=", ".join(n if n.isprintable() else repr(n) for n in names),  # a "\n" key: one line
                known=", ".join(exc.known),
                first=repr(names[0]),
                sorted_known=", ".join(sorted(exc.known)),
            )
            raise UnknownParams(exc.names, exc.known, text) from None

    @classmethod
    def rendered_params(cls, params: dict[str, Any], held: Collection[str]) -> dict[str, Any]:
        """The params once the plan filled in the placeholders of the keys ``held``: such a value
        is text now, so for a field that takes a number or a bool it is read as the TOML literal
        it spells ("60" -> 60, "true" -> True), as if written so in the runbook."""
        return {k: literal(cls.params_model, k, v) if k in held else v for k, v in params.items()}

    @classmethod
    def check_rendered(cls, params: dict[str, Any], timeout: float) -> str | None:
        """The rendered params' first problem in the kind's words, or None; for the plan, so a
        bad value fails ``warroom check`` and ``warroom plan`` rather than the step mid-incident."""
        try:
            cls.parse_params(params, timeout)
        except ParamError as exc:
            return cls.problem_text(exc)
        return None

    @classmethod
    def step_params(cls, step: PlannedStep) -> Any:
        """A planned step's rendered params as the kind's model, or an error naming step and key."""
        try:
            return cls.parse_params(step.params, step.timeout)
        except ParamError as exc:
            raise ActionError(f"step {step.id}: {exc}") from None

    @abstractmethod
    def plan(self, step: PlannedStep) -> list[PlannedCommand]:
        """What would run, per host, with secrets shown only as references."""

    @abstractmethod
    async def run(self, ctx: StepContext) -> StepRun:
        """Carry the step out; must stop promptly when ``ctx.cancelled`` is set."""

    def preflight(self, ctx: PreflightContext) -> list[Probe]:
        """What this step needs on its hosts, as read-only checks the gate runs before the incident
        opens (each bounded in time; a host that cannot be reached is reported once, not per step).
        Default: nothing beyond the host itself."""
        return []

    async def preview(self, ctx: StepContext) -> dict[str, str]:
        """Read-only facts from the hosts to show before a destructive step is confirmed
        (e.g. the tag a checkout would leave and the one it would reach). Default: none."""
        return {}
