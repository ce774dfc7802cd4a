"""Steps: start, retry, cancel, skip and preview a step, and run its attempt through its kind."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from actions.base import HostOutcome, StepRun
from console.engine.actor import Actor
from console.engine.context import StepContext
from console.engine.core import EngineCore
from console.model import events, rules
from console.model.errors import WarroomError
from console.model.plan import PlannedStep
from console.model.sanitize import neutralise
from console.model.state import IncidentState

log = logging.getLogger("warroom.engine")


class StepsMixin(EngineCore):
    """At most one step runs at a time; its outcome is journaled per host, then as a whole."""

    def start_step(self, actor: Actor, step_id: str, *, confirm: str = "") -> asyncio.Task[None]:
        """Start a pending step; returns the task that runs it."""
        return self._begin(actor, "start", step_id, confirm, rules.start_refusal)

    def retry_step(self, actor: Actor, step_id: str, *, confirm: str = "") -> asyncio.Task[None]:
        """A new attempt of a failed, cancelled, timed-out or interrupted step."""
        return self._begin(actor, "retry", step_id, confirm, rules.retry_refusal)

    def _begin(
        self,
        actor: Actor,
        command: str,
        step_id: str,
        confirm: str,
        refusal: Callable[[PlannedStep, IncidentState], str],
    ) -> asyncio.Task[None]:
        self._require(actor, command, step=step_id)
        step = self._step(actor, command, step_id)
        reason = refusal(step, self.state)
        if reason:
            raise self.refuse(actor, command, reason, step=step_id)
        return self._launch(actor, step, confirm, command)

    def _launch(self, actor: Actor, step: PlannedStep, confirm: str, command: str) -> asyncio.Task[None]:
        """Run a step the rules let start (or retry); a destructive one only with its word typed."""
        if step.destructive and confirm != step.confirm:
            raise self.refuse(
                actor,
                command,
                f"step {step.id} is destructive: type {step.confirm!r} to confirm",
                step=step.id,
            )
        attempt = len(self.state.steps[step.id].attempts) + 1
        self._commit(
            events.STEP_STARTED,
            {
                "step": step.id,
                "attempt": attempt,
                "hosts": list(step.hosts),
                "confirmed": bool(step.destructive),
            },
            actor,
        )
        ctx = StepContext(self, step, attempt)
        self._contexts[step.id] = ctx
        task = asyncio.get_running_loop().create_task(self._execute(actor, ctx), name=f"step:{step.id}")
        self._tasks[step.id] = task
        return task

    async def _execute(self, actor: Actor, ctx: StepContext) -> None:
        step = ctx.step
        try:
            groups = step.renderings()
            if len(groups) == 1:
                run, error = await self._run_kind(ctx)
            else:  # hosts see the step differently: the kind runs once per identically-rendered group
                done = await asyncio.gather(*(self._run_kind(ctx.narrowed(g)) for g in groups))
                run, error = _merge(groups, done)
        finally:
            for spool in ctx.spools.values():
                spool.close()
        try:
            for host in step.hosts:
                result = run.outcomes.get(host)
                data = result.to_dict() if result else {"host": host, "status": "error", "error": error or "not run"}
                self._commit(
                    events.STEP_HOST_FINISHED,
                    {"step": step.id, "attempt": ctx.attempt, "host": host, "result": data},
                    actor,
                )
            outcome = _outcome(run, ctx.cancelled.is_set(), error)
            if outcome != "succeeded" and not error:
                error = "; ".join(f"{o.host}: {o.error}" for o in run.outcomes.values() if o.status != "ok")
            self._commit(
                events.STEP_FINISHED,
                {"step": step.id, "attempt": ctx.attempt, "outcome": outcome, "error": error},
                actor,
            )
        finally:
            self._tasks.pop(step.id, None)
            self._contexts.pop(step.id, None)

    async def _run_kind(self, ctx: StepContext) -> tuple[StepRun, str]:
        """One run of the step's kind: its StepRun and the error that stopped it ("" if none)."""
        step = ctx.step
        try:
            return await self.kinds[step.kind]().run(ctx), ""
        except WarroomError as exc:
            return StepRun(), str(exc)
        except Exception as exc:
            log.exception("step %s crashed", step.id)
            return StepRun(), f"internal error in {step.kind} action: {type(exc).__name__}: {exc}"

    async def preview_step(self, actor: Actor, step_id: str) -> dict[str, str]:
        """Read-only facts per host before a step is confirmed; only the driver may query hosts."""
        self._require(actor, "preview", step=step_id)
        step = self._step(actor, "preview", step_id)
        found: dict[str, str] = {}
        for rendering in step.renderings():
            try:
                found.update(await self.kinds[step.kind]().preview(StepContext(self, rendering, 0)))
            except WarroomError as exc:
                found.update({host: f"cannot preview: {exc}" for host in rendering.hosts})
        return {host: neutralise(text) for host, text in found.items()}  # git stderr, file names: remote text

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

    async def refuse_if_still_running(self, actor: Actor, step_id: str) -> None:
        """Before a retry of an interrupted step: refuse while its old command still runs on a host."""
        if not rules.is_driver(actor, self.state):
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
            await self.refuse_if_still_running(actor, step_id)
        task = (self.retry_step if retry else self.start_step)(actor, step_id, confirm=confirm)
        await task
        return self.state.steps[step_id].status

    def cancel_step(self, actor: Actor, step_id: str) -> None:
        self._require(actor, "cancel", step=step_id)
        self._step(actor, "cancel", step_id)
        ctx = self._contexts.get(step_id)
        reason = rules.cancel_refusal(step_id, self.state, held=ctx is not None)
        if reason or ctx is None:
            raise self.refuse(actor, "cancel", reason, step=step_id)
        self._commit(events.STEP_CANCEL_REQUESTED, {"step": step_id, "attempt": ctx.attempt}, actor)
        ctx.cancelled.set()

    def skip_step(self, actor: Actor, step_id: str, reason: str) -> None:
        self._require(actor, "skip", step=step_id)
        self._step(actor, "skip", step_id)
        status = self.state.steps[step_id].status
        if not rules.skippable(status):
            raise self.refuse(actor, "skip", f"step {step_id} is {status}", step=step_id)
        if not reason.strip():
            raise self.refuse(actor, "skip", "a skip needs a reason", step=step_id)
        self._commit(events.STEP_SKIPPED, {"step": step_id, "reason": reason.strip(), "was": status}, actor)


def _merge(groups: list[PlannedStep], done: list[tuple[StepRun, str]]) -> tuple[StepRun, str]:
    """One StepRun of the per-group runs; a group that raised gets its error on each of its hosts."""
    merged = StepRun()
    for group, (run, error) in zip(groups, done, strict=True):
        merged.outcomes.update(run.outcomes)
        if error:
            for host in group.hosts:
                merged.outcomes.setdefault(host, HostOutcome(host, "error", error=error))
    return merged, ""


def _outcome(run: StepRun, cancelled: bool, error: str) -> str:
    statuses = {o.status for o in run.outcomes.values()}
    if "cancelled" in statuses or (cancelled and not run.outcomes):
        return "cancelled"
    if "timed_out" in statuses:
        return "timed_out"
    if run.ok and not error:
        return "succeeded"
    return "failed"
