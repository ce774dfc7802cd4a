"""The incident engine: the single owner of an incident's truth.

Every command names an :class:`Actor`. The engine checks it against the actor's role and the
current state, appends the resulting event to the journal (fsync) and only then applies it to the
state and publishes it to subscribers. Refusals are journaled too. The TUI, observers and the
headless runner are all clients of this class; none of them changes state by itself.

By job: :mod:`console.engine.core` (journal, state, refusals), :mod:`~console.engine.seat`,
:mod:`~console.engine.steps`, :mod:`~console.engine.comms` and :mod:`~console.engine.commands`
(the command table); here the incident's life (open, resume, close) and its records.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

from console.engine.actor import SYSTEM, Actor, Role
from console.engine.commands import COMMANDS, CommandsMixin
from console.engine.comms import CommsMixin
from console.engine.preflight_table import GateResult
from console.engine.seat import SeatMixin
from console.engine.steps import StepsMixin
from console.engine.stream import Output, Progress, Subscriber
from console.model import events, rules
from console.model.clock import Clock, SystemClock, iso
from console.model.config import LoadedConfig, config_redactor
from console.model.errors import CommandRefused, IncidentError, WarroomError
from console.model.history import run_history
from console.model.incident_dir import incidents_dir, new_incident_id
from console.model.incident_dir import lock as lock_incident
from console.model.journal import Journal
from console.model.kinds import KindTable
from console.model.plan import Plan
from console.model.timeline import rto_status

log = logging.getLogger("warroom.engine")

__all__ = ["COMMANDS", "SYSTEM", "Actor", "Engine", "Output", "Progress", "Role", "Subscriber"]

TICK_RESULTS = ("pass", "fail", "na")
CLOSE_OUTCOMES = ("resolved", "aborted")


def policy(config: LoadedConfig | None) -> dict[str, Any]:
    """What the config allows that every client must know (journaled, so watchers know it too)."""
    return {"observers_may_note": config.model.server.observers_may_note if config is not None else True}


class Engine(SeatMixin, StepsMixin, CommsMixin, CommandsMixin):
    """One incident, opened or resumed by exactly one process at a time."""

    # ----- lifecycle -------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        state_root: Path,
        plan: Plan,
        actor: Actor,
        *,
        severity: str,
        trigger: str,
        detected_at: str | None = None,
        clock: Clock | None = None,
        config: LoadedConfig | None = None,
        incident_id: str | None = None,
        kinds: KindTable | None = None,
    ) -> Engine:
        """Create a new incident directory and journal its opening."""
        clock = clock or SystemClock()
        if actor.role != "driver":
            raise CommandRefused(f"{actor.name} is an observer and cannot open an incident")
        if severity not in plan.severity:
            known = ", ".join(plan.severity)
            raise CommandRefused(f"unknown severity {severity!r} (runbook defines: {known})")
        incident_id = incident_id or new_incident_id(clock)
        history = run_history(incidents_dir(state_root), plan).to_dict(plan)  # before this incident exists
        directory = incidents_dir(state_root) / incident_id
        try:
            directory.mkdir(parents=True, exist_ok=False, mode=0o700)
        except FileExistsError:
            raise IncidentError(f"incident {incident_id} already exists in {directory.parent}") from None
        except OSError as exc:
            raise IncidentError(f"cannot create incident directory {directory}: {exc.strerror}") from None
        lock_fd = lock_incident(directory, incident_id)
        redactor = config_redactor(config)
        journal = Journal.create(directory / "journal.jsonl", redactor)
        engine = cls(
            directory, journal, [], clock=clock, config=config, redactor=redactor, lock_fd=lock_fd, kinds=kinds
        )
        engine._commit(
            events.INCIDENT_OPENED,
            {
                "incident": incident_id,
                "plan": plan.to_dict(),
                "severity": severity,
                "trigger": trigger,
                "detected_at": detected_at or iso(clock.now()),
                "pid": os.getpid(),
                "policy": policy(config),
                "history": history,
            },
            actor,
        )
        return engine

    @classmethod
    def resume(
        cls,
        directory: Path,
        actor: Actor,
        *,
        clock: Clock | None = None,
        config: LoadedConfig | None = None,
        kinds: KindTable | None = None,
    ) -> Engine:
        """Rebuild state from the journal; steps that were running become *interrupted*."""
        clock = clock or SystemClock()
        if not (directory / "journal.jsonl").exists():
            raise IncidentError(f"no incident journal in {directory}")
        lock_fd = lock_incident(directory, directory.name)
        redactor = config_redactor(config)
        try:
            journal, records, torn = Journal.open(directory / "journal.jsonl", redactor)
        except WarroomError:
            os.close(lock_fd)
            raise
        engine = cls(
            directory, journal, records, clock=clock, config=config, redactor=redactor, lock_fd=lock_fd, kinds=kinds
        )
        if not records or records[0]["type"] != events.INCIDENT_OPENED:
            engine.journal.close()
            os.close(lock_fd)
            raise IncidentError(f"{directory}: journal does not start with incident.opened")
        resumed: dict[str, Any] = {"pid": os.getpid(), "previous_driver": engine.state.driver}
        if config is not None:  # the config may have changed since the opening: its policy holds now
            resumed["policy"] = policy(config)
        if torn is not None:
            resumed["torn_record"] = {"bytes": torn.size, "saved_as": torn.saved_as}
        engine._commit(events.INCIDENT_RESUMED, resumed, actor)
        for step in list(engine.state.steps.values()):
            if step.status == "running":
                engine._commit(
                    events.STEP_INTERRUPTED,
                    {"step": step.id, "attempt": step.attempt.number if step.attempt else 0},
                    actor,
                )
        return engine

    async def aclose(self) -> None:
        """Stop running steps, close connections, journal and lock."""
        for step_id in list(self._tasks):
            ctx = self._contexts.get(step_id)
            if ctx is not None:
                ctx.cancelled.set()
        if self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        await self.connections.close()
        self._write_closing_record()
        self.journal.close()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def _write_closing_record(self) -> None:
        """A closed incident's journal ends with its closing record (and the seal on it), so a
        journal that was cut after the close is told from one that ends where it should."""
        if self.state.status != "closed" or self.journal.broken or self.journal.closed:
            return
        if self.records and self.records[-1]["type"] == events.JOURNAL_CLOSED:
            return
        try:
            self._commit(events.JOURNAL_CLOSED, {}, SYSTEM)
        except WarroomError as exc:  # a full disk at the very end: the seal still matches the journal
            log.warning("cannot write the closing record: %s", exc)

    # ----- checks, notes, comms ------------------------------------------------------------------

    def tick(self, actor: Actor, step_id: str, check_id: str, result: str, note: str = "") -> None:
        self._require(actor, "tick", step=step_id, check=check_id)
        step = self._step(actor, "tick", step_id)
        if check_id not in dict(step.checks):
            known = ", ".join(c for c, _ in step.checks) or "none"
            raise self.refuse(
                actor, "tick", f"step {step_id} has no check {check_id!r} (checks: {known})", step=step_id
            )
        if result not in TICK_RESULTS:
            raise self.refuse(actor, "tick", f"result must be pass, fail or na, not {result!r}", step=step_id)
        reason = rules.tick_refusal(step_id, self.state.steps[step_id].status)
        if reason:
            raise self.refuse(actor, "tick", reason, step=step_id)
        self._commit(events.CHECK_TICKED, {"step": step_id, "check": check_id, "result": result, "note": note}, actor)

    def add_note(self, actor: Actor, text: str) -> None:
        """A note on the shared timeline: anyone driver-eligible, and observers when the config
        allows (capped; control characters are neutralised by the commit like every record)."""
        reason = rules.note_refusal(actor, self.state, text.strip())
        if reason:
            raise self.refuse(actor, "note", reason)
        if not text.strip():
            raise self.refuse(actor, "note", "the note is empty")
        self._commit(events.NOTE_ADDED, {"text": text.strip()}, actor)

    def record_decision(self, actor: Actor, decision: str, reason: str) -> None:
        self._require(actor, "decide")
        if not reason.strip():
            raise self.refuse(actor, "decide", "a decision needs a reason")
        self._commit(events.DECISION_RECORDED, {"decision": decision, "reason": reason.strip()}, actor)

    def change_severity(self, actor: Actor, severity: str, reason: str = "") -> None:
        self._require(actor, "severity")
        if severity not in self.plan.severity:
            raise self.refuse(
                actor, "severity", f"unknown severity {severity!r} (defined: {', '.join(self.plan.severity)})"
            )
        self._commit(
            events.SEVERITY_CHANGED, {"severity": severity, "was": self.state.severity, "reason": reason}, actor
        )

    def record_preflight(self, actor: Actor, result: GateResult) -> None:
        """Journal the gate the incident opened behind: compact when it passed, every failed line
        when the driver started anyway (``--force``), so the report shows what was overridden."""
        reason = rules.refusal(actor, self.state, seat=False)  # at the opening nobody holds the seat yet
        if not reason and any(step.attempts for step in self.state.steps.values()):
            reason = "the preflight gate is journaled before the first step, not after"
        if reason:
            raise self.refuse(actor, "preflight", reason)
        kind = events.PREFLIGHT_PASSED if result.passed else events.PREFLIGHT_OVERRIDDEN
        self._commit(kind, result.journal_data(), actor)

    def check_deadlines(self) -> None:
        """Journal the RTO breach once, the moment the deadline has passed on an open incident."""
        if self.state.status != "open" or self.state.breached_at:
            return
        status = rto_status(self.state, self.clock.now())
        if status.level == "breached":
            self._commit(
                events.RTO_BREACHED,
                {"deadline": iso(status.deadline), "rto_minutes": int(status.rto.total_seconds() // 60)},
                SYSTEM,
            )

    async def watch_deadlines(self, interval: float = 1.0) -> None:
        """Run for the life of the engine in the process that hosts it."""
        while self.state.status == "open":
            self.check_deadlines()
            await asyncio.sleep(interval)

    def close(self, actor: Actor, outcome: str = "resolved", summary: str = "") -> None:
        self._require(actor, "close")
        if outcome not in CLOSE_OUTCOMES:
            raise self.refuse(actor, "close", f"outcome must be resolved or aborted, not {outcome!r}")
        if not summary.strip():  # the report's first line; the UI and the CLI ask for it, the engine insists
            raise self.refuse(actor, "close", "a close needs a summary: what happened and what was done")
        reason = rules.close_refusal(self.state)
        if reason:
            raise self.refuse(actor, "close", reason)
        self._commit(events.INCIDENT_CLOSED, {"outcome": outcome, "summary": summary}, actor)
