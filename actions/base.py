"""The one interface every step kind implements, and the data it works on.

``plan()`` says exactly what would run on which host (for ``warroom plan``, previews and
confirmations) without touching anything; ``run()`` does it, streaming output through the
context's sinks and honouring cancellation and the step's timeout.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

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

    @classmethod
    def check_step(cls, step: Step) -> tuple[str, str] | None:
        """Static checks of a runbook step; returns ``(field, problem)`` or None."""
        if cls.needs_targets and not step.targets:
            return ("targets", f"a {cls.kind} step needs targets (a host or group name)")
        return None

    @classmethod
    def check_own_commands(cls, step: Step, known: set[str]) -> tuple[str, str] | None:
        """For kinds that build their commands from ``params``: no commands, no unknown params."""
        unknown = sorted(set(step.params) - known)
        if unknown:
            return ("params", f"unknown {cls.kind} parameter {unknown[0]!r} (known: {', '.join(sorted(known))})")
        if step.commands:
            return ("commands", f"a {cls.kind} step builds its own commands; use params ({', '.join(sorted(known))})")
        return None

    @abstractmethod
    def plan(self, step: PlannedStep) -> list[PlannedCommand]:
        """What would run, per host, with secrets shown only as references."""

    @abstractmethod
    async def run(self, ctx: StepContext) -> StepRun:
        """Carry the step out; must stop promptly when ``ctx.cancelled`` is set."""

    async def preview(self, ctx: StepContext) -> dict[str, str]:
        """Read-only facts from the hosts to show before a destructive step is confirmed
        (e.g. the tag a checkout would leave and the one it would reach). Default: none."""
        return {}
