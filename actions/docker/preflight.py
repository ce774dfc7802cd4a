"""What a docker step needs before the incident opens: the Docker engine answering its ping, reached
the way the step will reach it (the host's socket forwarded over SSH, or ``base_url``); for a
compose step also the cwd its compose command runs in, and the engine only when it verifies."""

from __future__ import annotations

from actions.base import LOCAL_HOST, PreflightContext, Probe, Target
from actions.docker.engine import DockerEngine, resolve_base_url
from actions.docker.params import DockerParams
from actions.transport import cwd_probes


def probes(ctx: PreflightContext, params: DockerParams) -> list[Probe]:
    compose = params.operation == "compose"
    found = cwd_probes(ctx) if compose else []
    if (compose and not params.verify) or not ctx.targets:
        return found  # the compose CLI alone runs on the host: warroom makes no engine call of its own
    base_url = resolve_base_url(params)
    if base_url:  # one engine, reached from this machine
        return [*found, _ping(ctx, params, ctx.targets[0], LOCAL_HOST, f"docker engine {base_url}")]
    check = f"docker engine unix://{params.socket} (over SSH)"
    return [*found, *(_ping(ctx, params, t, t.name, check) for t in ctx.targets)]


def _ping(ctx: PreflightContext, params: DockerParams, target: Target, host: str, check: str) -> Probe:
    async def run() -> str:
        engine = DockerEngine(ctx, target, params)
        try:
            await engine.open()  # pings /_ping; its errors say what is wrong with the socket
            return "answers"
        finally:
            await engine.close()

    return Probe(host, check, run)
