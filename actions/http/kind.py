"""HTTP health checks (httpx on the event loop): status, body, JSON fields, retries, latency.

A URL on ``localhost`` means the host's own loopback, as in the seed's ``curl -f
http://localhost:8000/api/v1/health`` that runs ON the host: it is reached through an SSH tunnel
over the host's pooled connection (``via_ssh``, on by default for loopback URLs). Other URLs are
requested from the warroom machine. TLS is always verified (``ca_file`` adds a CA, nothing turns
it off); redirects are followed only on the same host. Every attempt's status and latency go to
the output and the facts.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from actions.base import LOCAL_HOST as LOCAL
from actions.base import Action, HostOutcome, PlannedCommand, PreflightContext, Probe, StepContext, StepRun
from actions.http.expect import Expectation, flatten
from actions.http.params import HttpParams
from actions.params import ParamError
from actions.urls import display, is_loopback, origin
from console.model.errors import ActionError, WarroomError

if TYPE_CHECKING:
    from console.model.plan import PlannedStep
    from console.model.runbook import Step

BACKOFF_FIRST, BACKOFF_MAX = 0.5, 5.0
HISTORY = 50


@dataclass(frozen=True)
class Settings:
    """The step's parameters, ready for the checks."""

    url: str
    method: str
    expect: Expectation
    retry_until: float
    timeout: float
    ca_file: str
    via_ssh: bool | None

    def tunnelled(self, host: str) -> bool:
        if self.via_ssh is not None:
            return self.via_ssh
        return host != LOCAL and is_loopback(origin(self.url).host)


class HttpAction(Action):
    kind = "http"
    needs_targets = False
    params_model = HttpParams
    commands_hint = "an http step runs no shell commands; give params.url"

    @classmethod
    def check_step(cls, step: Step) -> tuple[str, str] | None:
        problem = super().check_step(step)
        if problem:
            return problem
        if step.params.get("via_ssh") is True and not step.targets:
            return ("targets", "via_ssh = true needs targets: the host whose loopback the URL is on")
        return None

    def plan(self, step: PlannedStep) -> list[PlannedCommand]:
        try:
            p = self.parse_params(step.params, step.timeout)
        except ParamError as exc:
            return [PlannedCommand(host, f"invalid {exc}") for host in step.hosts or (LOCAL,)]
        url = display(p.url)
        expect = Expectation(p.expect_status, p.expect_body, flatten(p.expect_json or {})).describe()
        retry = p.retry_until
        deadline = f"retry until {retry:g}s (backoff up to {BACKOFF_MAX:g}s)" if retry else "one attempt"
        timeout = f"{p.timeout:g}s"
        ca = f", extra CA {p.ca_file}" if p.ca_file else ""
        commands = []
        for host in step.hosts or (LOCAL,):
            via = self._via_text(p, url, host)
            text = f"{p.method} {url} {via}; expect {expect}; {deadline}, {timeout} per request{ca}"
            commands.append(PlannedCommand(host, text))
        return commands

    @staticmethod
    def _via_text(params: HttpParams, url: str, host: str) -> str:
        if host == LOCAL or params.via_ssh is False:
            return "from the warroom machine"
        if params.via_ssh is True:
            return f"through an SSH tunnel to {host}"
        try:
            local = is_loopback(origin(url).host)
        except ValueError as exc:
            return f"(not a usable URL: {exc})"
        return f"through an SSH tunnel to {host}" if local else "from the warroom machine"

    def preflight(self, ctx: PreflightContext) -> list[Probe]:
        """The URL's host reachable the way the check will go (:mod:`actions.http.preflight`)."""
        from actions.http.preflight import probes

        settings = _settings(ctx)
        return probes(ctx, settings.url, settings.tunnelled)

    async def run(self, ctx: StepContext) -> StepRun:
        settings = _settings(ctx)
        tls = _tls_context(ctx.step.id, settings.ca_file)
        targets = {t.name: t for t in ctx.targets}
        hosts = ctx.step.hosts or (LOCAL,)
        results = await asyncio.gather(*(self._run_host(ctx, host, targets, settings, tls) for host in hosts))
        return StepRun({r.host: r for r in results})

    async def _run_host(self, ctx: StepContext, host: str, targets: dict, settings: Settings, tls) -> HostOutcome:
        sink = ctx.sink(host)
        started = time.monotonic()
        check = asyncio.create_task(_check_host(ctx, host, targets.get(host), settings, tls, sink))
        cancelled = asyncio.create_task(ctx.cancelled.wait())
        try:
            done, _ = await asyncio.wait({check, cancelled}, timeout=ctx.step.timeout, return_when="FIRST_COMPLETED")
        finally:
            cancelled.cancel()
        if check in done:
            outcome = check.result()
        else:
            check.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await check
            where = f"host {host}" if host != LOCAL else LOCAL
            if ctx.cancelled.is_set():
                outcome = HostOutcome(host, "cancelled", error=f"{where}: step {ctx.step.id}: cancelled by the driver")
            else:
                outcome = HostOutcome(
                    host, "timed_out", error=f"{where}: step {ctx.step.id}: timed out after {ctx.step.timeout}s"
                )
            sink.write(f"{outcome.error}\n".encode())
        outcome.bytes, outcome.sha256 = sink.close()
        outcome.duration = time.monotonic() - started
        return outcome


async def _check_host(ctx: StepContext, host: str, target, settings: Settings, tls, sink) -> HostOutcome:
    """Attempt until healthy, a final problem, or the retry deadline; one line per attempt."""
    import asyncssh
    import httpx

    from actions.http.probe import Router, attempt
    from actions.http.tunnel import Tunnel

    url = display(settings.url)
    tunnelled = settings.tunnelled(host)
    where = f"host {host}" if host != LOCAL else LOCAL
    prefix = f"{where}: step {ctx.step.id}: {settings.method} {url}{' through SSH' if tunnelled else ''}"
    facts: dict[str, Any] = {"url": url, "method": settings.method, "via": f"ssh {host}" if tunnelled else "direct"}
    tunnel = None
    try:
        if tunnelled:
            if target is None:
                return HostOutcome(host, "error", error=f"{prefix}: a local URL needs a target host (give targets)")
            try:
                tunnel = Tunnel(await ctx.connections.get(target), host)
            except WarroomError as exc:
                return HostOutcome(host, "error", error=f"{exc} (step {ctx.step.id}, {settings.method} {url})")
        router = Router(tunnel)
        sink.write(
            f"{settings.method} {url} {_route_text(host, tunnelled)}; expect {settings.expect.describe()}\n".encode()
        )
        history: list = []
        deadline = time.monotonic() + settings.retry_until
        delay = BACKOFF_FIRST
        timeout = httpx.Timeout(settings.timeout)
        async with httpx.AsyncClient(verify=tls, timeout=timeout, follow_redirects=False, trust_env=False) as client:
            while True:
                result = await attempt(
                    client, len(history) + 1, settings.method, settings.url, settings.expect, router, settings.timeout
                )
                history.append(result)
                sink.write(f"{result.line()}\n".encode())
                ctx.progress(host, result.number, None, "attempts", result.problem or "healthy")
                left = deadline - time.monotonic()
                if result.ok or result.final or left <= 0:
                    break
                await asyncio.sleep(min(delay, left))
                delay = min(delay * 2, BACKOFF_MAX)
        return _outcome(host, prefix, history, facts)
    except (OSError, asyncssh.Error) as exc:  # the tunnel: no local listener, or the SSH connection dropped
        return HostOutcome(host, "error", error=f"{prefix}: SSH tunnel failed: {exc}", facts=facts)
    finally:
        if tunnel is not None:
            await tunnel.close()


def _route_text(host: str, tunnelled: bool) -> str:
    if tunnelled:
        return f"on host {host}'s own network, through an SSH tunnel"
    return "from the warroom machine"


def _outcome(host: str, prefix: str, history: list, facts: dict[str, Any]) -> HostOutcome:
    last = history[-1]
    facts.update(
        healthy=last.ok,
        status=last.status,
        latency_ms=last.latency_ms,
        attempts=len(history),
        redirects=last.redirects,
        history=[a.fact() for a in history[-HISTORY:]],
    )
    if last.ok:
        return HostOutcome(host, "ok", facts=facts)
    tries = f" (after {len(history)} attempts)" if len(history) > 1 else ""
    return HostOutcome(host, "failed", error=f"{prefix}: {last.problem}{tries}", facts=facts)


def _settings(ctx: StepContext | PreflightContext) -> Settings:
    p = HttpAction.step_params(ctx.step)
    url = p.url
    if not url:
        raise ActionError(f"step {ctx.step.id}: no url: give params.url")
    try:
        origin(url)
    except ValueError as exc:
        raise ActionError(f"step {ctx.step.id}: url: {exc}") from None
    return Settings(
        url=url,
        method=p.method,
        expect=Expectation(
            p.expect_status,
            p.expect_body,
            flatten(p.expect_json or {}),
        ),
        retry_until=p.retry_until,
        timeout=p.timeout,
        ca_file=p.ca_file,
        via_ssh=p.via_ssh,
    )


def _tls_context(step_id: str, ca_file: str):
    """The system's and certifi's CAs, plus ``ca_file`` if given; verification cannot be disabled."""
    import ssl

    import certifi

    context = ssl.create_default_context(cafile=certifi.where())
    if ca_file:
        path = os.path.expanduser(ca_file)
        try:
            context.load_verify_locations(cafile=path)
        except FileNotFoundError:
            raise ActionError(f"step {step_id}: ca_file {ca_file} does not exist") from None
        except (OSError, ssl.SSLError) as exc:
            raise ActionError(f"step {step_id}: ca_file {ca_file} is not a PEM CA bundle: {exc}") from None
    return context
