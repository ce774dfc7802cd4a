"""The incident engine: the single owner of an incident's truth.

Every command names an :class:`Actor`. The engine checks it against the actor's role and the
current state, appends the resulting event to the journal (fsync) and only then applies it to the
state and publishes it to subscribers. Refusals are journaled too. The TUI, observers and the
headless runner are all clients of this class; none of them changes state by itself.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from actions.base import StepRun, Target
from actions.registry import KINDS
from actions.transport import ConnectionPool
from console.model.clock import Clock, SystemClock, iso
from console.model.config import LoadedConfig, config_redactor
from console.model.errors import ActionError, CommandRefused, IncidentError, SecretError, WarroomError
from console.model.incident_dir import incidents_dir, new_incident_id, output_path
from console.model.incident_dir import lock as lock_incident
from console.model.journal import Journal
from console.model.kinds import KindTable
from console.model.plan import Plan, PlannedStep
from console.model.secrets import Redactor, lookup, resolve_ref
from console.model.spool import OutputSpool
from console.model.state import RETRYABLE, IncidentState, apply, fold
from console.model.timeline import rto_status

log = logging.getLogger("warroom.engine")

Role = Literal["driver", "observer", "system"]
TICK_RESULTS = ("pass", "fail", "na")
CLOSE_OUTCOMES = ("resolved", "aborted")


@dataclass(frozen=True)
class Actor:
    """Who sends a command. ``driver`` means *may* take the seat; holding it is engine state."""

    name: str
    role: Role


@dataclass(frozen=True)
class Output:
    """A transient batch of output lines; the spool file is the durable record."""

    step: str
    attempt: int
    host: str
    lines: list[str]


@dataclass(frozen=True)
class Progress:
    """A transient progress report from a running step (bytes restored, attempts made)."""

    step: str
    attempt: int
    host: str
    done: float
    total: float | None
    unit: str
    label: str


Subscriber = Callable[[Any], None]

# The engine itself, for events nobody commanded (an RTO breach).
SYSTEM = Actor("warroom", "system")


class _StepContext:
    """What an action sees of the engine while it runs one step attempt."""

    def __init__(self, engine: Engine, step: PlannedStep, attempt: int) -> None:
        self.step = step
        self.attempt = attempt
        self.cancelled = asyncio.Event()
        self._engine = engine
        assert engine.state.plan is not None
        targets = engine.state.plan.targets
        self.targets: list[Target] = [targets[h] for h in step.hosts if h in targets]
        self.spools: dict[str, OutputSpool] = {}

    @property
    def connections(self) -> ConnectionPool:
        return self._engine.connections

    def secret(self, key: str) -> str:
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
        self._engine.publish(Progress(self.step.id, self.attempt, host, done, total, unit, label))

    def warn(self, host: str, message: str) -> None:
        self._engine.step_warning(self.step.id, self.attempt, host, message)

    def remote_started(self, host: str, pgid: int) -> None:
        self._engine._commit(
            "step.remote_started", {"step": self.step.id, "attempt": self.attempt, "host": host, "pgid": pgid}, SYSTEM
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


class Engine:
    """One incident, opened or resumed by exactly one process at a time."""

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
        self.state: IncidentState = fold(records)
        self.connections = ConnectionPool()
        self._lock_fd = lock_fd
        self._subscribers: list[Subscriber] = []
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._contexts: dict[str, _StepContext] = {}
        self.records: list[dict[str, Any]] = list(records)
        self.users: dict[str, Role] = {}
        """Who may be handed the seat: user name -> role (from the config's server users)."""

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
            "incident.opened",
            {
                "incident": incident_id,
                "plan": plan.to_dict(),
                "severity": severity,
                "trigger": trigger,
                "detected_at": detected_at or iso(clock.now()),
                "pid": os.getpid(),
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
        if not records or records[0]["type"] != "incident.opened":
            engine.journal.close()
            os.close(lock_fd)
            raise IncidentError(f"{directory}: journal does not start with incident.opened")
        resumed: dict[str, Any] = {"pid": os.getpid(), "previous_driver": engine.state.driver}
        if torn is not None:
            resumed["torn_record"] = {"bytes": torn.size, "saved_as": torn.saved_as}
        engine._commit("incident.resumed", resumed, actor)
        for step in list(engine.state.steps.values()):
            if step.status == "running":
                engine._commit(
                    "step.interrupted",
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
        self.journal.close()
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    # ----- plumbing -------------------------------------------------------------------------

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
        record = self.journal.append(type_, data, actor=actor.name, role=actor.role, ts=iso(self.clock.now()))
        apply(self.state, record)
        self.records.append(record)
        self.publish(record)
        return record

    def refuse(self, actor: Actor, command: str, reason: str, **args: Any) -> CommandRefused:
        """Journal a refusal and return the error for the caller to raise."""
        self._commit("command.refused", {"command": command, "reason": reason, "args": args}, actor)
        return CommandRefused(f"{command} refused for {actor.name}: {reason}")

    def _require(self, actor: Actor, command: str, *, seat: bool = True, **args: Any) -> None:
        if actor.role == "observer":
            raise self.refuse(actor, command, "observers watch only and cannot act", **args)
        if self.state.status != "open":
            raise self.refuse(actor, command, f"incident is {self.state.status}", **args)
        if seat and self.state.driver != actor.name:
            holder = self.state.driver or "nobody"
            raise self.refuse(actor, command, f"{actor.name} does not hold the driver seat (driver: {holder})", **args)

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

    # ----- the driver seat -------------------------------------------------------------------

    def take_seat(self, actor: Actor) -> None:
        self._require(actor, "take-seat", seat=False)
        if self.state.driver == actor.name:
            raise self.refuse(actor, "take-seat", f"{actor.name} already drives")
        if self.state.driver is not None:
            raise self.refuse(actor, "take-seat", f"the seat is held by {self.state.driver}; ask for a hand-over")
        self._commit("seat.taken", {"from": None, "to": actor.name}, actor)

    def release_seat(self, actor: Actor) -> None:
        self._require(actor, "release-seat")
        self._commit("seat.released", {"from": actor.name, "to": None}, actor)

    def request_seat(self, actor: Actor) -> None:
        """Take a free seat, or ask the driver for it (the driver hands it over, or not)."""
        self._require(actor, "request-seat", seat=False)
        if self.state.driver is None:
            self.take_seat(actor)
            return
        if self.state.driver == actor.name:
            raise self.refuse(actor, "request-seat", f"{actor.name} already drives")
        self._commit("seat.requested", {"by": actor.name, "driver": self.state.driver}, actor)

    def drop_seat(self, reason: str) -> None:
        """The engine takes the seat back (the driver disconnected and did not return in time)."""
        if self.state.driver is not None and self.state.status == "open":
            self._commit("seat.released", {"from": self.state.driver, "to": None, "reason": reason}, SYSTEM)

    def join(self, actor: Actor, via: str) -> str:
        """Someone started watching or driving: journaled presence, shown to everyone."""
        connection = secrets.token_hex(4)
        if actor.role in ("driver", "observer"):
            self.users.setdefault(actor.name, actor.role)
        self._commit("presence.joined", {"connection": connection, "via": via}, actor)
        return connection

    def leave(self, actor: Actor, connection: str) -> None:
        if connection in self.state.presence:
            self._commit("presence.left", {"connection": connection}, actor)

    def hand_over(self, actor: Actor, to: Actor) -> None:
        self._require(actor, "hand-over", to=to.name)
        if to.role != "driver":
            raise self.refuse(actor, "hand-over", f"{to.name} is an observer and cannot drive", to=to.name)
        if to.name == actor.name:
            raise self.refuse(actor, "hand-over", f"{actor.name} already drives", to=to.name)
        self._commit("seat.handed_over", {"from": actor.name, "to": to.name}, actor)

    # ----- steps -----------------------------------------------------------------------------

    def start_step(self, actor: Actor, step_id: str, *, confirm: str = "") -> asyncio.Task[None]:
        """Start a pending step; returns the task that runs it."""
        self._require(actor, "start", step=step_id)
        step = self._step(actor, "start", step_id)
        status = self.state.steps[step_id].status
        if status != "pending":
            hint = "; use retry" if status in RETRYABLE else ""
            raise self.refuse(actor, "start", f"step {step_id} is {status}{hint}", step=step_id)
        return self._launch(actor, step, confirm, "start")

    def retry_step(self, actor: Actor, step_id: str, *, confirm: str = "") -> asyncio.Task[None]:
        self._require(actor, "retry", step=step_id)
        step = self._step(actor, "retry", step_id)
        status = self.state.steps[step_id].status
        if status not in RETRYABLE:
            raise self.refuse(
                actor,
                "retry",
                f"step {step_id} is {status}; only {', '.join(RETRYABLE)} steps can be retried",
                step=step_id,
            )
        return self._launch(actor, step, confirm, "retry")

    def _launch(self, actor: Actor, step: PlannedStep, confirm: str, command: str) -> asyncio.Task[None]:
        if not step.automated:
            raise self.refuse(actor, command, f"step {step.id} is a manual checklist: tick its checks", step=step.id)
        running = self.state.running
        if running is not None:
            raise self.refuse(actor, command, f"step {running} is still running", step=step.id)
        if step.destructive and confirm != step.confirm:
            raise self.refuse(
                actor,
                command,
                f"step {step.id} is destructive: type {step.confirm!r} to confirm",
                step=step.id,
            )
        attempt = len(self.state.steps[step.id].attempts) + 1
        self._commit(
            "step.started",
            {
                "step": step.id,
                "attempt": attempt,
                "hosts": list(step.hosts),
                "confirmed": bool(step.destructive),
            },
            actor,
        )
        ctx = _StepContext(self, step, attempt)
        self._contexts[step.id] = ctx
        task = asyncio.get_running_loop().create_task(self._execute(actor, ctx), name=f"step:{step.id}")
        self._tasks[step.id] = task
        return task

    async def _execute(self, actor: Actor, ctx: _StepContext) -> None:
        step = ctx.step
        error = ""
        try:
            run = await self.kinds[step.kind]().run(ctx)
        except WarroomError as exc:
            run, error = StepRun(), str(exc)
        except Exception as exc:
            log.exception("step %s crashed", step.id)
            run, error = StepRun(), f"internal error in {step.kind} action: {type(exc).__name__}: {exc}"
        finally:
            for spool in ctx.spools.values():
                spool.close()
        try:
            for host in step.hosts:
                result = run.outcomes.get(host)
                data = result.to_dict() if result else {"host": host, "status": "error", "error": error or "not run"}
                self._commit(
                    "step.host_finished",
                    {"step": step.id, "attempt": ctx.attempt, "host": host, "result": data},
                    actor,
                )
            outcome = _outcome(run, ctx.cancelled.is_set(), error)
            if outcome != "succeeded" and not error:
                error = "; ".join(f"{o.host}: {o.error}" for o in run.outcomes.values() if o.status != "ok")
            self._commit(
                "step.finished",
                {"step": step.id, "attempt": ctx.attempt, "outcome": outcome, "error": error},
                actor,
            )
        finally:
            self._tasks.pop(step.id, None)
            self._contexts.pop(step.id, None)

    async def preview_step(self, actor: Actor, step_id: str) -> dict[str, str]:
        """Read-only facts per host before a step is confirmed; only the driver may query hosts."""
        self._require(actor, "preview", step=step_id)
        step = self._step(actor, "preview", step_id)
        ctx = _StepContext(self, step, 0)
        try:
            return await self.kinds[step.kind]().preview(ctx)
        except WarroomError as exc:
            return {host: f"cannot preview: {exc}" for host in step.hosts}

    async def remote_alive(self, step_id: str) -> dict[str, int]:
        """Hosts where the last attempt's remote process group still runs (after a crash, an
        interrupted step's command may well be running on, without anyone watching it)."""
        from actions.transport import alive_groups

        attempt = self.state.steps[step_id].attempt if step_id in self.state.steps else None
        if attempt is None or not attempt.remote:
            return {}
        found: dict[str, int] = {}
        for host, pgid in attempt.remote.items():
            target = self.plan.targets.get(host)
            if target is None:
                continue
            try:
                conn = await self.connections.get(target)
                if await alive_groups(conn, [pgid]):
                    found[host] = pgid
            except (WarroomError, OSError, TimeoutError) as exc:
                log.info("cannot check %s on %s: %s", step_id, host, exc)
        return found

    async def _refuse_if_still_running(self, actor: Actor, step_id: str) -> None:
        if actor.role != "driver" or self.state.driver != actor.name:
            return  # the retry itself is refused for them; no host is queried on their behalf
        if step_id in self.state.steps and self.state.steps[step_id].status == "interrupted":
            alive = await self.remote_alive(step_id)
            if alive:
                where = ", ".join(f"{h} (process group {p})" for h, p in alive.items())
                raise self.refuse(
                    actor,
                    "retry",
                    f"step {step_id}'s interrupted command is still running on {where}: "
                    "wait for it, or stop it on the host (kill -TERM -PGID), then retry",
                    step=step_id,
                )

    async def run_step(self, actor: Actor, step_id: str, *, confirm: str = "", retry: bool = False) -> str:
        """Start (or retry) a step and wait for it; returns its final status."""
        if retry:
            await self._refuse_if_still_running(actor, step_id)
        task = (self.retry_step if retry else self.start_step)(actor, step_id, confirm=confirm)
        await task
        return self.state.steps[step_id].status

    def cancel_step(self, actor: Actor, step_id: str) -> None:
        self._require(actor, "cancel", step=step_id)
        self._step(actor, "cancel", step_id)
        ctx = self._contexts.get(step_id)
        if self.state.steps[step_id].status != "running" or ctx is None:
            raise self.refuse(actor, "cancel", f"step {step_id} is not running", step=step_id)
        self._commit("step.cancel_requested", {"step": step_id, "attempt": ctx.attempt}, actor)
        ctx.cancelled.set()

    def skip_step(self, actor: Actor, step_id: str, reason: str) -> None:
        self._require(actor, "skip", step=step_id)
        self._step(actor, "skip", step_id)
        status = self.state.steps[step_id].status
        if status in ("running", "succeeded", "skipped"):
            raise self.refuse(actor, "skip", f"step {step_id} is {status}", step=step_id)
        if not reason.strip():
            raise self.refuse(actor, "skip", "a skip needs a reason", step=step_id)
        self._commit("step.skipped", {"step": step_id, "reason": reason.strip(), "was": status}, actor)

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
        if self.state.steps[step_id].status == "skipped":
            raise self.refuse(actor, "tick", f"step {step_id} was skipped", step=step_id)
        self._commit("check.ticked", {"step": step_id, "check": check_id, "result": result, "note": note}, actor)

    def add_note(self, actor: Actor, text: str) -> None:
        self._require(actor, "note")
        if not text.strip():
            raise self.refuse(actor, "note", "the note is empty")
        self._commit("note.added", {"text": text.strip()}, actor)

    def _comm(self, actor: Actor, comm_id: str) -> dict[str, Any]:
        self._require(actor, "comms", comm=comm_id)
        comm = next((c for c in self.plan.comms if c["id"] == comm_id), None)
        if comm is None:
            known = ", ".join(c["id"] for c in self.plan.comms) or "none"
            raise self.refuse(actor, "comms", f"no comms item {comm_id!r} (plan: {known})", comm=comm_id)
        return comm

    def record_comms(self, actor: Actor, comm_id: str, note: str = "", channel_result: str = "") -> None:
        comm = self._comm(actor, comm_id)
        self._commit(
            "comms.sent",
            {
                "comm": comm_id,
                "channel": comm["channel"],
                "to": comm["to"],
                "note": note,
                "result": channel_result,
            },
            actor,
        )

    async def send_comms(self, actor: Actor, comm_id: str, note: str = "", *, via: str = "channel") -> str:
        """Send a planned message through its configured channel and journal the outcome.

        ``via="manual"`` records a message sent another way (a phone call, a channel warroom does
        not drive). A delivery that fails is journaled as ``comms.failed`` and reported; it never
        blocks the rollback, and the message stays due so it can be retried or recorded.
        """
        from actions.notify import incident_facts, send

        comm = self._comm(actor, comm_id)
        channel = comm["channel"]
        notify = self.config.model.notify if self.config is not None else None
        if via not in ("channel", "manual"):
            raise self.refuse(actor, "comms", f"via must be channel or manual, not {via!r}", comm=comm_id)
        if via == "manual" or getattr(notify, channel, None) is None:
            self.record_comms(actor, comm_id, note, "recorded as sent")
            return "recorded as sent"
        facts = incident_facts(self.state, self.clock.now())
        try:
            text = (comm["template"] or comm["summary"]).format(**facts)
        except (KeyError, IndexError, ValueError) as exc:
            text = comm["summary"]
            self.step_warning("comms", 0, channel, f"template of {comm_id} not filled ({exc}); summary sent")
        subject = f"[{self.state.severity}] {self.plan.runbook['title']} — {comm['summary']} ({self.state.id})"
        result = await send(
            self.config.model if self.config else None,
            channel,
            text,
            subject=subject,
            secret=lambda key: self.resolve_secret(key, f"comms {comm_id}"),
            facts=facts,
        )
        if result.delivered:
            outcome = f"delivered via {channel} to {result.target}"
            self.record_comms(actor, comm_id, note, outcome)
            return outcome
        self._commit("comms.failed", {"comm": comm_id, "channel": channel, "error": result.error}, actor)
        raise ActionError(f"{comm_id}: not delivered via {channel}: {result.error}", title="Message not sent")

    def record_decision(self, actor: Actor, decision: str, reason: str) -> None:
        self._require(actor, "decide")
        if not reason.strip():
            raise self.refuse(actor, "decide", "a decision needs a reason")
        self._commit("decision.recorded", {"decision": decision, "reason": reason.strip()}, actor)

    def change_severity(self, actor: Actor, severity: str, reason: str = "") -> None:
        self._require(actor, "severity")
        if severity not in self.plan.severity:
            raise self.refuse(
                actor, "severity", f"unknown severity {severity!r} (defined: {', '.join(self.plan.severity)})"
            )
        self._commit("severity.changed", {"severity": severity, "was": self.state.severity, "reason": reason}, actor)

    def step_warning(self, step_id: str, attempt: int, host: str, message: str) -> None:
        """Journal a warning from a running step (attributed to the engine, not a person)."""
        self._commit("step.warning", {"step": step_id, "attempt": attempt, "host": host, "message": message}, SYSTEM)

    async def execute(self, actor: Actor, name: str, args: dict[str, Any]) -> Any:
        """One command by name, as a client sends it (local UI or the attach socket).

        The actor is bound by whoever accepted the client, never taken from the message; unknown
        commands and malformed arguments are refused and journaled like any other refusal.
        """
        spec = COMMANDS.get(name)
        if spec is None:
            raise self.refuse(actor, name[:40], "unknown command")
        required, optional = spec
        if not isinstance(args, dict):
            raise self.refuse(actor, name, "arguments must be an object")
        unknown = set(args) - set(required) - set(optional)
        missing = [k for k in required if k not in args]
        bad = [k for k, v in args.items() if not isinstance(v, str)]
        if unknown or missing or bad:
            problem = (
                f"unknown argument {sorted(unknown)[0]!r}"
                if unknown
                else f"missing argument {missing[0]!r}"
                if missing
                else f"argument {bad[0]!r} must be a string"
            )
            raise self.refuse(actor, name, problem)
        a = {k: args.get(k, "") for k in (*required, *optional)}
        if name == "preview":
            return await self.preview_step(actor, a["step"])
        if name == "comms":
            return await self.send_comms(actor, a["comm"], a["note"], via=a["via"] or "channel")
        if name == "retry":
            await self._refuse_if_still_running(actor, args.get("step", "") if isinstance(args, dict) else "")
        if name == "hand-over":
            role = self.users.get(a["to"])
            if role is None:
                raise self.refuse(actor, name, f"{a['to']} is not a known user", to=a["to"])
            self.hand_over(actor, Actor(a["to"], role))
            return None
        call = {
            "take-seat": lambda: self.take_seat(actor),
            "request-seat": lambda: self.request_seat(actor),
            "release-seat": lambda: self.release_seat(actor),
            "start": lambda: self.start_step(actor, a["step"], confirm=a["confirm"]),
            "retry": lambda: self.retry_step(actor, a["step"], confirm=a["confirm"]),
            "cancel": lambda: self.cancel_step(actor, a["step"]),
            "skip": lambda: self.skip_step(actor, a["step"], a["reason"]),
            "tick": lambda: self.tick(actor, a["step"], a["check"], a["result"], a["note"]),
            "note": lambda: self.add_note(actor, a["text"]),
            "decide": lambda: self.record_decision(actor, a["decision"], a["reason"]),
            "severity": lambda: self.change_severity(actor, a["severity"], a["reason"]),
            "close": lambda: self.close(actor, a["outcome"] or "resolved", a["summary"]),
        }[name]
        call()
        return None

    def check_deadlines(self) -> None:
        """Journal the RTO breach once, the moment the deadline has passed on an open incident."""
        if self.state.status != "open" or self.state.breached_at:
            return
        status = rto_status(self.state, self.clock.now())
        if status.level == "breached":
            self._commit(
                "rto.breached",
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
        if self.state.running:
            raise self.refuse(actor, "close", f"step {self.state.running} is still running")
        self._commit("incident.closed", {"outcome": outcome, "summary": summary}, actor)


# command name -> (required string arguments, optional string arguments)
COMMANDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "take-seat": ((), ()),
    "request-seat": ((), ()),
    "release-seat": ((), ()),
    "hand-over": (("to",), ()),
    "start": (("step",), ("confirm",)),
    "retry": (("step",), ("confirm",)),
    "cancel": (("step",), ()),
    "skip": (("step", "reason"), ()),
    "tick": (("step", "check", "result"), ("note",)),
    "note": (("text",), ()),
    "comms": (("comm",), ("note", "via")),
    "decide": (("decision", "reason"), ()),
    "severity": (("severity",), ("reason",)),
    "close": ((), ("outcome", "summary")),
    "preview": (("step",), ()),
}


def _outcome(run: StepRun, cancelled: bool, error: str) -> str:
    statuses = {o.status for o in run.outcomes.values()}
    if "cancelled" in statuses or (cancelled and not run.outcomes):
        return "cancelled"
    if "timed_out" in statuses:
        return "timed_out"
    if run.ok and not error:
        return "succeeded"
    return "failed"
