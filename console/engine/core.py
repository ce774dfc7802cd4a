"""The engine's plumbing: state, journal, subscribers, and the one way a command is refused.

Every change goes through :meth:`EngineCore._commit` (journal first, fsync, then state, then
subscribers); every refusal through :meth:`EngineCore.refuse`, which journals it too. The jobs of
the engine (seat, steps, comms, commands) are mixins over this core.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from actions.registry import KINDS
from actions.transport import ConnectionPool
from console.engine.actor import SYSTEM, Actor, Role
from console.engine.stream import Subscriber
from console.model import events, rules
from console.model.clock import Clock, iso
from console.model.config import LoadedConfig
from console.model.errors import CommandRefused, JournalError, SecretError
from console.model.incident_dir import output_path
from console.model.journal import Journal
from console.model.kinds import KindTable
from console.model.plan import Plan, PlannedStep
from console.model.sanitize import neutralise_tree
from console.model.secrets import Redactor, lookup, redact_logs, resolve_ref
from console.model.state import IncidentState, apply, fold, unfoldable

log = logging.getLogger("warroom.engine")


class RunningAttempt(Protocol):
    """What the engine holds of a step attempt while it runs: which attempt, and the flag that
    cancels it. A :class:`console.engine.context.StepContext` is one (that module imports this)."""

    attempt: int
    cancelled: asyncio.Event


class EngineCore:
    """What every job of the engine shares: the incident's state, journal, clock, config and
    subscribers, and the one way to change (``_commit``) or refuse (``refuse``)."""

    def __init__(
        self,
        directory: Path,
        journal: Journal,
        records: list[dict[str, Any]],
        *,
        clock: Clock,
        config: LoadedConfig | None,
        redactor: Redactor,
        lock_fd: int,
        kinds: KindTable | None = None,
    ) -> None:
        self.directory = directory
        self.kinds: KindTable = kinds if kinds is not None else KINDS
        """The step kinds that run this incident's steps (``actions.registry.KINDS`` unless a test
        hands its own)."""
        self.journal = journal
        self.clock = clock
        self.config = config
        self.redactor = redactor
        redact_logs(redactor)
        self.state: IncidentState = fold(records)
        self.connections = ConnectionPool()
        self._lock_fd = lock_fd
        self._subscribers: list[Subscriber] = []
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._contexts: dict[str, RunningAttempt] = {}
        """step id -> the :class:`console.engine.context.StepContext` of its running attempt."""
        self.records: list[dict[str, Any]] = list(records)
        self.users: dict[str, Role] = {}
        """Who may be handed the seat: user name -> role (from the config's server users)."""

    @property
    def plan(self) -> Plan:
        assert self.state.plan is not None
        return self.state.plan

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def publish(self, event: Any) -> None:
        for subscriber in list(self._subscribers):
            try:
                subscriber(event)
            except Exception:
                log.exception("subscriber failed on %s", type(event).__name__)

    def _commit(self, type_: str, data: dict[str, Any], actor: Actor) -> dict[str, Any]:
        problem = unfoldable(self.state, type_, data)
        if problem:  # a bug, but one that must not reach the journal: resume and the report would fail
            raise JournalError(f"{type_} not journaled: {problem}")
        if type_ != events.INCIDENT_OPENED:  # the plan is journaled exactly as it runs
            data = neutralise_tree(data, self.redactor)
        record = self.journal.append(type_, data, actor=actor.name, role=actor.role, ts=iso(self.clock.now()))
        apply(self.state, record)
        self.records.append(record)
        self.publish(record)
        return record

    def refuse(self, actor: Actor, command: str, reason: str, **args: Any) -> CommandRefused:
        """Journal a refusal and return the error for the caller to raise."""
        self._commit(events.COMMAND_REFUSED, {"command": command, "reason": reason, "args": args}, actor)
        return CommandRefused(f"{command} refused for {actor.name}: {reason}")

    def _require(self, actor: Actor, command: str, **args: Any) -> None:
        """Refuse (journaled) unless ``actor`` may send ``command`` now: :mod:`console.model.rules`."""
        reason = rules.refusal(actor, self.state, seat=rules.needs_seat(command))
        if reason:
            raise self.refuse(actor, command, reason, **args)

    def _step(self, actor: Actor, command: str, step_id: str) -> PlannedStep:
        step = self.plan.steps.get(step_id)
        if step is None:
            raise self.refuse(actor, command, f"no step {step_id!r} in this incident's plan", step=step_id)
        return step

    def output_path(self, step_id: str, attempt: int, host: str) -> Path:
        return output_path(self.directory, step_id, attempt, host)

    def resolve_secret(self, key: str, step_id: str) -> str:
        if self.config is None:
            raise SecretError(f"step {step_id}: secret {key} needs the config (-c CONFIG)")
        try:
            ref = lookup(self.config.model, key)
        except KeyError:
            raise SecretError(f"{self.config.source.name}: {key}: missing (needed by step {step_id})") from None
        return resolve_ref(ref, where=f"{self.config.source.name}: {key}", redactor=self.redactor)

    def step_warning(self, step_id: str, attempt: int, host: str, message: str) -> None:
        """Journal a warning from a running step (attributed to the engine, not a person)."""
        self._commit(
            events.STEP_WARNING, {"step": step_id, "attempt": attempt, "host": host, "message": message}, SYSTEM
        )
