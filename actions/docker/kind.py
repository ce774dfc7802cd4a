"""Docker steps: a compose project's status, stop, start and logs through the Docker SDK, and the
compose CLI (``down`` / ``up -d``) over SSH.

The engine is the host's own, reached through its socket forwarded over the step's SSH connection,
unless ``params.base_url`` names one. The project is ``params.project`` (required). Runbooks write
both as variables (``project = "{{ docker.compose_project }}"``, ``base_url = "{{ docker.base_url }}"``),
so a runbook may drive several projects and ``warroom plan`` shows each exact endpoint and project.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import asyncssh

from actions.base import Action, HostOutcome, PlannedCommand, PreflightContext, Probe, StepContext, StepRun, Target
from actions.docker.compose import compose, describe
from actions.docker.engine import DockerEngine, Interrupted, Stopper, bounded, resolve_base_url
from actions.docker.ops import OPERATIONS, HostJob
from actions.docker.params import DockerParams, ParamError
from actions.docker.project import load_project, summary_line
from console.model.errors import ActionError

if TYPE_CHECKING:
    from console.model.plan import PlannedStep

PREVIEW_TIMEOUT = 15.0


class DockerAction(Action):
    kind = "docker"
    params_model = DockerParams
    commands_hint = "a docker step builds its own commands; use params.operation"

    @classmethod
    def problem_text(cls, exc: ParamError) -> str:
        """Worded ``wait: ...`` (no ``params.`` before the key), as docker steps always were."""
        return f"{exc.name}: {exc.problem}" if exc.name else exc.problem.removeprefix("params.")

    def plan(self, step: PlannedStep) -> list[PlannedCommand]:
        try:
            params = self.parse_params(step.params, step.timeout)
        except ParamError as exc:
            return [PlannedCommand(host, f"invalid {exc}") for host in step.hosts]
        project = params.project or "<no project>"
        return [
            PlannedCommand(host, _plan_text(params, project, step.cwd, _endpoint(params, host))) for host in step.hosts
        ]

    def preflight(self, ctx: PreflightContext) -> list[Probe]:
        """The engine answers its ping on every host, reached as the step will reach it."""
        from actions.docker.preflight import probes

        return probes(ctx, self.step_params(ctx.step))

    async def run(self, ctx: StepContext) -> StepRun:
        params, project = _prepare(ctx)
        results = await asyncio.gather(*(self._host(ctx, target, params, project) for target in ctx.targets))
        return StepRun({r.host: r for r in results})

    async def preview(self, ctx: StepContext) -> dict[str, str]:
        """Each host's project as it stands: what a stop or a compose down is about to act on."""
        params, project = _prepare(ctx)

        async def one(target: Target) -> tuple[str, str]:
            engine = DockerEngine(ctx, target, params)
            deadline = time.monotonic() + PREVIEW_TIMEOUT
            try:
                await bounded(ctx, engine.open(), deadline)
                return target.name, summary_line(await bounded(ctx, load_project(engine, project), deadline))
            except ActionError as exc:
                return target.name, f"cannot preview: {exc}"
            except Interrupted as exc:
                return target.name, f"cannot preview: {exc.status.replace('_', ' ')}"
            except (OSError, asyncssh.Error) as exc:
                return target.name, f"cannot preview: connection lost: {exc}"
            finally:
                await engine.close()

        return dict(await asyncio.gather(*(one(t) for t in ctx.targets)))

    async def _host(self, ctx: StepContext, target: Target, params: DockerParams, project: str) -> HostOutcome:
        sink = ctx.sink(target.name)
        started = time.monotonic()
        deadline = started + ctx.step.timeout
        engine = DockerEngine(ctx, target, params)
        job = HostJob(ctx, params, project, engine, sink, Stopper())
        outcome = HostOutcome(target.name, "error")
        try:
            if params.operation == "compose":
                outcome = await compose(job, deadline)
            else:
                outcome = await bounded(ctx, OPERATIONS[params.operation](job), deadline, job.stopper.stop)
        except Interrupted as exc:
            outcome = HostOutcome(target.name, exc.status, error=_interrupted(exc.status, ctx.step.timeout, params))
        except ActionError as exc:
            outcome.error = str(exc)
        except (OSError, asyncssh.Error) as exc:
            outcome.error = f"host {target.name}: connection lost during step {ctx.step.id}: {exc}"
        finally:
            job.stopper.stop()
            await engine.close()
            if outcome.error:
                job.say(f"\n{outcome.error}\n")
            outcome.bytes, outcome.sha256 = sink.close()
            outcome.duration = time.monotonic() - started
        return outcome


def _prepare(ctx: StepContext) -> tuple[DockerParams, str]:
    """Parameters as rendered, the project name and the engine mode, or a one-line error."""
    step = ctx.step
    params: DockerParams = DockerAction.step_params(step)
    project = params.project
    if not project:
        raise ActionError(f"step {step.id}: no compose project: set params.project")
    base_url = resolve_base_url(params)
    if base_url and len(ctx.targets) > 1:
        names = ", ".join(t.name for t in ctx.targets)
        raise ActionError(
            f"step {step.id}: base_url {base_url} is one engine but the step targets {len(ctx.targets)} hosts "
            f"({names}); target one host, or leave base_url empty to reach each host's engine over SSH"
        )
    return params, project


def _endpoint(params: DockerParams, host: str) -> str:
    if params.base_url:
        return f"engine {params.base_url}"
    return f"engine unix://{params.socket} on {host} forwarded over SSH"


def _plan_text(params: DockerParams, project: str, cwd: str, endpoint: str) -> str:
    services = ", ".join(params.services) or "all services"
    op = params.operation
    if op == "compose":
        return describe(params, project, cwd, endpoint)
    if op == "status":
        text = f"{endpoint}: check compose project {project} ({services}): running, healthy where a healthcheck exists"
        if params.image_tag or params.expect_tags:
            tags = params.image_tag or ", ".join(f"{s}={t}" for s, t in params.expect_tags.items())
            text += f", image tag {tags}"
        return text + (f"; wait up to {params.wait:g}s" if params.wait else "")
    if op == "logs":
        lines = "all lines" if params.tail == "all" else f"last {params.tail} lines"
        text = f"{endpoint}: logs of compose project {project} ({services}): {lines}"
        text += f" since {params.since}" if params.since else ""
        return text + (f", then follow for {params.follow:g}s" if params.follow else "")
    extra = f" (stop timeout {params.stop_timeout}s each)" if op == "stop" else ""
    return f"{endpoint}: {op} the containers of compose project {project} ({services}){extra}"


def _interrupted(status: str, timeout: int, params: DockerParams) -> str:
    unfinished = " an engine call under way (stop/start of one container) finishes on the engine"
    if status == "timed_out":
        return f"timed out after {timeout}s;" + (unfinished if params.operation in ("stop", "start") else " stopped")
    return "cancelled by the driver;" + (unfinished if params.operation in ("stop", "start") else " stopped")
