"""The step context: what a step kind sees of the engine while it runs one attempt."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from actions.base import Target
from actions.transport import ConnectionPool
from console.engine.actor import SYSTEM
from console.engine.core import EngineCore
from console.engine.stream import Output, Progress
from console.model import events
from console.model.clock import Clock
from console.model.errors import SecretError
from console.model.plan import PlannedStep
from console.model.sanitize import neutralise
from console.model.secrets import resolve_ref
from console.model.spool import OutputSpool
from console.model.state import IncidentState


class StepConnections:
    """The engine's pool as a step sees it: a connection lost since its last use (a host's or its
    bastion's) is opened again and journaled as a warning of this step. A loss *during* the step
    is the step's own outcome (the interrupted or failed case), never silently retried."""

    def __init__(self, pool: ConnectionPool, ctx: StepContext) -> None:
        self._pool, self._ctx = pool, ctx

    async def get(self, target: Target) -> Any:
        return await self._pool.get(target, reconnected=lambda t, message: self._ctx.warn(t.name, message))


class StepContext:
    """What an action sees of the engine while it runs one step attempt."""

    def __init__(self, engine: EngineCore, step: PlannedStep, attempt: int) -> None:
        self.step = step
        self.attempt = attempt
        self.cancelled = asyncio.Event()
        self._engine = engine
        assert engine.state.plan is not None
        targets = engine.state.plan.targets
        self.targets: list[Target] = [targets[h] for h in step.hosts if h in targets]
        self.spools: dict[str, OutputSpool] = {}

    def narrowed(self, rendering: PlannedStep) -> StepContext:
        """The context of one group of identically-rendered hosts (``rendering`` is the step as they
        see it): the kind runs once per group, sharing this attempt's cancel flag and spools."""
        child = StepContext(self._engine, rendering, self.attempt)
        child.cancelled = self.cancelled
        child.spools = self.spools
        return child

    @property
    def connections(self) -> StepConnections:
        return StepConnections(self._engine.connections, self)

    def secret(self, key: str) -> str:
        """A secret by the key the step names: a variable through the step's own references
        first (per host, from the plan), else a config key (``notify.slack.webhook_url``)."""
        ref = self.step.secrets.get(key)
        if ref is not None:
            where = f"step {self.step.id}: {key}"
            return resolve_ref(ref, where=where, redactor=self._engine.redactor)
        return self._engine.resolve_secret(key, self.step.id)

    @property
    def clock(self) -> Clock:
        return self._engine.clock

    @property
    def incident(self) -> IncidentState:
        """The incident as it stands (read-only by convention): facts for notification templates."""
        return self._engine.state

    @property
    def config(self) -> Any:
        if self._engine.config is None:
            raise SecretError(f"step {self.step.id}: this step kind needs the config (-c CONFIG)")
        return self._engine.config.model

    def progress(self, host: str, done: float, total: float | None, unit: str = "bytes", label: str = "") -> None:
        # the label can name what is read on the host (a backup's file name): shown, so neutralised
        self._engine.publish(Progress(self.step.id, self.attempt, host, done, total, unit, neutralise(label)))

    def warn(self, host: str, message: str) -> None:
        self._engine.step_warning(self.step.id, self.attempt, host, message)

    def remote_started(self, host: str, pgid: int) -> None:
        self._engine._commit(
            events.STEP_REMOTE_STARTED,
            {"step": self.step.id, "attempt": self.attempt, "host": host, "pgid": pgid},
            SYSTEM,
        )

    def sink(self, host: str) -> OutputSpool:
        path = self._engine.output_path(self.step.id, self.attempt, host)
        spool = OutputSpool(path, host, self._engine.redactor, self._publisher(host))
        self.spools[host] = spool
        return spool

    def _publisher(self, host: str) -> Callable[[str, list[str]], None]:
        def publish(_host: str, lines: list[str]) -> None:
            self._engine.publish(Output(self.step.id, self.attempt, host, lines))

        return publish
