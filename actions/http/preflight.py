"""What an http step needs before the incident opens: its URL's host reachable the way the check
will go — through the target host's SSH tunnel for a URL on the host's loopback, else from the
warroom machine (the name resolves, a TCP connection opens).

Nothing answering on a port that can be reached is a warning, not a failure: before a rollback the
application is often down, which is why it is being rolled back; the health check says more later.
A tunnel that cannot be opened or a name that does not resolve is a failure: waiting will not fix it.
"""

from __future__ import annotations

import asyncio
import socket

from actions.base import LOCAL_HOST, PreflightContext, Probe
from actions.http.tunnel import Tunnel
from actions.urls import Origin, origin
from console.model.errors import ActionError, CheckWarning

CONNECT_TIMEOUT = 5.0


def probes(ctx: PreflightContext, url: str, tunnelled) -> list[Probe]:
    """``tunnelled(host)`` says whether the check of ``host`` goes through its SSH connection."""
    where = origin(url)
    targets = {t.name: t for t in ctx.targets}
    found: list[Probe] = []
    for host in ctx.step.hosts or (LOCAL_HOST,):
        target = targets.get(host)
        if tunnelled(host) and target is not None:
            found.append(Probe(host, f"http target {where.netloc} (through SSH)", _through(ctx, target, where)))
        elif not tunnelled(host):
            found.append(Probe(LOCAL_HOST, f"http target {where.netloc}", _direct(where)))
    return found


def _through(ctx: PreflightContext, target, where: Origin):
    async def run() -> str:
        tunnel = Tunnel(await ctx.connections.get(target), target.name)
        problem = await tunnel.diagnose(where)
        if problem is None:
            return f"reachable from {target.name}"
        text = f"host {target.name}: {where.host}:{where.port} on the host's own network: {problem}"
        if "refused" in problem.lower() and "prohibited" not in problem.lower():
            raise CheckWarning(f"{text}; the app may be down now (the health check will tell)")
        raise ActionError(f"{text}; the SSH tunnel cannot reach it (sshd AllowTcpForwarding? the URL's port?)")

    return run


def _direct(where: Origin):
    async def run() -> str:
        loop = asyncio.get_running_loop()
        try:
            await loop.getaddrinfo(where.host, where.port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise ActionError(f"cannot resolve {where.host} from the warroom machine: {exc.strerror}") from None
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(where.host, where.port), CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            reason = f"no answer within {CONNECT_TIMEOUT:g}s" if isinstance(exc, TimeoutError) else str(exc)
            raise CheckWarning(
                f"{where.host}:{where.port} does not accept connections from the warroom machine now: {reason}; "
                "the app may be down (the health check will tell)"
            ) from None
        writer.close()
        return "reachable"

    return run
