"""``docker-compose -p PROJECT -f FILE down`` / ``up -d`` on the host, through the ssh step kind's
streaming, timeout and remote cancel (:func:`actions.transport.run_script`).

Compose itself treats an unknown project as nothing to do, so with ``verify`` (the default) the
project is looked up through the engine before a command that needs its containers, and checked
afterwards: ``down`` left none, ``up``/``start``/``restart`` left them running, ``stop`` stopped.
"""

from __future__ import annotations

import shlex
import time
from typing import TYPE_CHECKING

from actions.base import HostOutcome
from actions.docker.engine import bounded
from actions.docker.params import NEEDS_EXISTING, DockerParams
from actions.docker.project import PROJECT_LABEL, SERVICE_LABEL, load_project, table
from actions.transport import run_script, shell_path, wrap_script

if TYPE_CHECKING:
    from actions.base import OutputSink
    from actions.docker.ops import HostJob

CHECK_AFTER = 15.0


def command_line(params: DockerParams, project: str) -> str:
    words = [
        params.compose_command,
        "-p",
        shlex.quote(project),
        "-f",
        shell_path(params.file or ""),
        *(shlex.quote(w) for w in params.compose),
        *(shlex.quote(s) for s in params.services),
    ]
    return " ".join(words)


class _Borrowed:
    """Lends the host's sink to :func:`run_script` without letting it close it: the check after
    the command writes to the same output."""

    def __init__(self, inner: OutputSink) -> None:
        self._inner = inner

    def write(self, data: bytes) -> None:
        self._inner.write(data)

    def close(self) -> tuple[int, str]:
        return (0, "")


async def compose(job: HostJob, deadline: float) -> HostOutcome:
    ctx, params, engine = job.ctx, job.params, job.engine
    subcommand = params.compose[0]
    if params.verify:
        await bounded(ctx, engine.open(), deadline)
        job.say(f"docker engine: {engine.endpoint}\n")
        if subcommand in NEEDS_EXISTING:
            project = await bounded(ctx, load_project(engine, job.project), deadline)
            project.select(params.services)
            job.say(f"compose project {job.project} before: {len(project.containers)} container(s)\n")
    line = command_line(params, job.project)
    job.say(f"$ {'cd ' + ctx.step.cwd + ' && ' if ctx.step.cwd else ''}{line}\n")
    outcome = await run_script(ctx, engine.target, wrap_script([line], cwd=ctx.step.cwd), sink=_Borrowed(job.sink))
    if outcome.status != "ok" or not params.verify:
        return outcome
    states = await bounded(ctx, _states_after(job), time.monotonic() + CHECK_AFTER)
    problem = _problem(subcommand, states, job)
    outcome.facts = job.facts(command=line, services=states)
    if problem:
        return HostOutcome(job.host, "failed", exit_code=0, error=problem, facts=outcome.facts)
    return outcome


async def _states_after(job: HostJob) -> dict[str, list[str]]:
    """Service -> the states of its containers now, written out as a table."""
    api = job.engine.client.api
    summaries = await job.engine.call(
        f"list project {job.project}", api.containers, all=True, filters={"label": f"{PROJECT_LABEL}={job.project}"}
    )
    states: dict[str, list[str]] = {}
    rows = [["SERVICE", "CONTAINER", "STATE", "STATUS"]]
    for s in sorted(summaries, key=lambda s: s.get("Names", [""])[0]):
        service = (s.get("Labels") or {}).get(SERVICE_LABEL, "?")
        states.setdefault(service, []).append(s.get("State", "unknown"))
        rows.append([service, (s.get("Names") or ["?"])[0].lstrip("/"), s.get("State", ""), s.get("Status", "")])
    job.say(f"compose project {job.project} after:\n" + (table(rows) if len(rows) > 1 else "(no containers)\n"))
    return states


def _problem(subcommand: str, states: dict[str, list[str]], job: HostJob) -> str:
    wanted = job.params.services or tuple(states)
    where = f"compose project {job.project} on {job.host}"
    if subcommand == "down":
        left = [s for s in wanted if states.get(s)]
        return f"{where}: containers still there after down: {', '.join(left)}" if left else ""
    if subcommand in ("up", "start", "restart"):
        if not states:
            return (
                f"{where}: {subcommand} finished but no container has label {PROJECT_LABEL}={job.project} "
                "(does the compose file define services?)"
            )
        down = [s for s in wanted if not states.get(s) or any(x != "running" for x in states[s])]
        return f"{where}: not running after {subcommand}: {', '.join(down)}" if down else ""
    if subcommand == "stop":
        up = [s for s in wanted if "running" in states.get(s, [])]
        return f"{where}: still running after stop: {', '.join(up)}" if up else ""
    return ""


def describe(params: DockerParams, project: str, cwd: str, endpoint: str) -> str:
    text = f"{'cd ' + cwd + ' && ' if cwd else ''}{command_line(params, project)}"
    if params.verify:
        text += f"  (project checked through the engine, {endpoint}, before and after)"
    return text
