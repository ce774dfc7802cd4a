"""What a docker step needs before the incident opens: the Docker engine answering its ping, reached
the way the step will reach it (the host's socket forwarded over SSH, or ``base_url``)."""

from __future__ import annotations

from actions.base import LOCAL_HOST, PreflightContext, Probe, Target
from actions.docker.engine import DockerEngine, resolve_base_url
from actions.docker.params import DockerParams


def probes(ctx: PreflightContext, params: DockerParams) -> list[Probe]:
    base_url = resolve_base_url(ctx, params)
    if base_url:
        return [_ping(ctx, params, ctx.targets[0], LOCAL_HOST, f"docker engine {base_url}")] if ctx.targets else []
    return [_ping(ctx, params, t, t.name, f"docker engine unix://{params.socket} (over SSH)") for t in ctx.targets]


def _ping(ctx: PreflightContext, params: DockerParams, target: Target, host: str, check: str) -> Probe:
    async def run() -> str:
        engine = DockerEngine(ctx, target, params)
        try:
            await engine.open()  # pings /_ping; its errors say what is wrong with the socket
            return "answers"
        finally:
            await engine.close()

    return Probe(host, check, run)
