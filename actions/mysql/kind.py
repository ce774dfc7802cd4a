"""MySQL/MariaDB steps (pymysql): preflight, find the latest backup, restore it, verify it.

``operation = "restore"`` is the whole careful path in one step, because every part of it
depends on the one before: find the newest usable backup on the host, check its age against the
RPO, check the dump is whole, take a safety dump of the current database, then — the point of
no return, journaled — stream the dump into the database and verify tables and row counts
against the dump's own. ``preflight``, ``find-backup`` and ``verify`` are the read-only parts on
their own. The database is reached through an SSH tunnel from the target host unless
``via_ssh = false``. The host's files are reached through the exec channel (no SFTP subsystem
needed, :mod:`actions.mysql.hostfiles`). pymysql runs in worker threads; the host's processes
and the tunnel stay on the event loop.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from actions.base import Action, HostOutcome, PlannedCommand, PreflightContext, Probe, StepContext, StepRun, Target
from actions.mysql.conn import DbTarget, parse_target
from actions.mysql.params import MySQLParams, plan_lines
from actions.params import ParamError, UnknownParams
from console.model.errors import ActionError

if TYPE_CHECKING:
    from console.model.plan import PlannedStep
    from console.model.runbook import Step

STOP_GRACE = 20.0


class MySQLAction(Action):
    kind = "mysql"
    params_model = MySQLParams
    secret_params = ("password",)
    unknown_params = "unknown parameter for a {kind} step (known: {known})"
    commands_hint = "a mysql step runs no shell commands; its params say what it does"

    @classmethod
    def param_problem(cls, exc: ParamError) -> tuple[str, str]:
        """As a mysql step always said it: each problem on the step's line under its own key
        (``"params.operation"``), an unknown one under the first unknown key as given."""
        if isinstance(exc, UnknownParams):
            return (f"params.{exc.names[0]}", exc.problem)
        return (f"params.{exc.name}", exc.problem) if exc.name else ("params", str(exc))

    @classmethod
    def check_step(cls, step: Step) -> tuple[str, str] | None:
        problem = super().check_step(step)
        if problem:
            return problem
        if step.params.get("operation") == "restore" and not step.destructive:
            return ("destructive", "a mysql restore replaces the database: set destructive = true and a confirm word")
        if step.params.get("operation") == "restore" and step.run_on != "one":
            # also what keeps hosts that see the step differently (per-host values) from each restoring
            return ("run_on", 'a mysql restore runs on one host (the database is shared): set run_on = "one"')
        return None

    def plan(self, step: PlannedStep) -> list[PlannedCommand]:
        try:
            p = self.parse_params(step.params, step.timeout)
        except ParamError as exc:
            return [PlannedCommand(host, f"invalid {exc}") for host in step.hosts]
        target = str(parse_target(p.database or "") or p.database)
        if p.operation == "restore" and len(step.hosts) > 1:
            text = f'refused: a restore runs on one host, not {len(step.hosts)} (set run_on = "one")'
            return [PlannedCommand(host, text) for host in step.hosts]
        return [PlannedCommand(host, line) for host in step.hosts for line in plan_lines(step, p, host, target)]

    def preflight(self, ctx: PreflightContext) -> list[Probe]:
        """The backups readable on the host (exec, not SFTP) and a read-only database login through
        the step's own route (:mod:`actions.mysql.preflight`)."""
        from actions.mysql.preflight import probes

        p: MySQLParams = self.step_params(ctx.step)
        return probes(ctx, p, lambda: self._target(ctx, p))

    async def run(self, ctx: StepContext) -> StepRun:
        p: MySQLParams = self.step_params(ctx.step)
        db = self._target(ctx, p)
        password = ctx.secret(p.password)
        if p.operation == "restore" and len(ctx.targets) != 1:
            names = ", ".join(t.name for t in ctx.targets)
            raise ActionError(
                f"step {ctx.step.id}: a restore runs on exactly one host (the database is shared), "
                f'not {len(ctx.targets)} ({names}); set run_on = "one"'
            )
        results = await asyncio.gather(*(self._host(ctx, t, p, db, password) for t in ctx.targets))
        return StepRun({r.host: r for r in results})

    @staticmethod
    def _target(ctx: StepContext | PreflightContext, p: MySQLParams) -> DbTarget:
        db = parse_target(p.database or "")
        if db is None:
            raise ActionError(f"step {ctx.step.id}: params.database: expected user@host:port/name")
        return db

    async def _host(self, ctx: StepContext, target: Target, p: MySQLParams, db: DbTarget, password: str) -> HostOutcome:
        from actions.mysql.job import Job  # the restore machinery loads when a mysql step runs, not at start-up

        sink = ctx.sink(target.name)
        started = time.monotonic()
        job = Job(ctx, target, p, sink, db, password)
        outcome = HostOutcome(target.name, "error", facts=job.facts)
        work = asyncio.create_task(job.run())
        cancelled = asyncio.create_task(ctx.cancelled.wait())
        try:
            done, _ = await asyncio.wait({work, cancelled}, timeout=ctx.step.timeout, return_when="FIRST_COMPLETED")
            if work in done:
                outcome.status, outcome.error = work.result()
            else:
                outcome.status = "cancelled" if ctx.cancelled.is_set() else "timed_out"
                await job.stop()
                await asyncio.wait({work}, timeout=STOP_GRACE)
                when = f"timed out after {ctx.step.timeout}s" if outcome.status == "timed_out" else "cancelled"
                outcome.error = f"step {ctx.step.id} on {target.name}: {when}; {job.state_text()}"
        finally:
            cancelled.cancel()
            if not work.done():
                work.cancel()
            job.close()
            outcome.bytes, outcome.sha256 = sink.close()
            outcome.duration = time.monotonic() - started
        return outcome
