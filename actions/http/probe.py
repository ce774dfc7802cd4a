"""One health-check attempt with httpx: same-host redirects only, capped body, typed problems.

Redirects are followed by hand (``follow_redirects=False``) so each hop is checked before it is
requested: a Location on another host ends the attempt without any request going there, and
https is never downgraded to http. Every failure becomes a short problem text; ``final`` marks
those that waiting will not fix (a cross-host redirect, an untrusted certificate).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from actions.http.expect import Expectation
from actions.http.tunnel import Tunnel
from actions.net_errors import cause, transport_reason
from actions.urls import Origin, display, origin, with_origin

MAX_REDIRECTS = 5
MAX_BODY = 1 << 20
REDIRECT_CODES = (301, 302, 303, 307, 308)


@dataclass
class Attempt:
    number: int
    status: int | None
    latency_ms: float
    problem: str
    final: bool = False
    redirects: int = 0
    url: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem

    def fact(self) -> dict[str, Any]:
        fact: dict[str, Any] = {"attempt": self.number, "status": self.status, "latency_ms": self.latency_ms}
        if self.problem:
            fact["problem"] = self.problem
        return fact

    def line(self) -> str:
        answer = str(self.status) if self.status is not None else "no answer"
        return f"attempt {self.number}: {answer} in {self.latency_ms:.1f} ms: {self.problem or 'healthy'}"


class Router:
    """Turns a logical URL into what httpx requests: directly, or via the tunnel's local port."""

    def __init__(self, tunnel: Tunnel | None) -> None:
        self.tunnel = tunnel

    async def prepare(self, url: str, where: Origin) -> tuple[str, dict[str, str], dict[str, Any]]:
        if self.tunnel is None:
            return with_origin(url, where.scheme, where.host, where.port), {}, {}
        port = await self.tunnel.local_port(where)
        extensions = {"sni_hostname": where.host} if where.scheme == "https" else {}
        return with_origin(url, where.scheme, "127.0.0.1", port), {"Host": where.netloc}, extensions


def credentials(url: str) -> tuple[str, str] | None:
    """Basic-auth credentials written in the URL, sent explicitly (and only to that host)."""
    parts = urlsplit(url)
    if parts.username is None:
        return None
    return unquote(parts.username), unquote(parts.password or "")


async def attempt(
    client: Any, number: int, method: str, url: str, expect: Expectation, router: Router, timeout: float
) -> Attempt:
    """Request ``url`` (following same-host redirects) and judge the answer against ``expect``."""
    import httpx

    started = time.monotonic()
    first = origin(url)
    auth = credentials(url)
    current, redirects = url, 0
    result = Attempt(number, None, 0.0, "")
    try:
        async with asyncio.timeout(timeout):
            while True:
                here = origin(current)
                target, headers, extensions = await router.prepare(current, here)
                async with client.stream(
                    method, target, headers=headers, extensions=extensions, auth=auth if here == first else None
                ) as response:
                    result.status = response.status_code
                    location = response.headers.get("location")
                    if response.status_code in REDIRECT_CODES and location:
                        nxt = urljoin(current, location)
                        result.problem, result.final = _refuse_redirect(here, nxt, redirects)
                        if result.problem:
                            break
                        current, redirects = nxt, redirects + 1
                        if response.status_code == 303:
                            method = "GET" if method != "HEAD" else method
                        continue
                    body = await _read_capped(response)
                result.problem = expect.problem(response.status_code, body)
                break
    except (TimeoutError, httpx.TimeoutException) as exc:
        phase = "TCP connection" if isinstance(exc, httpx.ConnectTimeout) else "answer"
        result.problem = f"no {phase} within {timeout:g}s (timed out)"
    except httpx.HTTPError as exc:
        result.problem, result.final = await _transport_problem(exc, router, origin(current))
    except ssl.SSLError as exc:
        result.problem, result.final = f"TLS failed: {exc.reason or exc}", True
    result.latency_ms = round((time.monotonic() - started) * 1000, 1)
    result.redirects, result.url = redirects, display(current)
    return result


def _refuse_redirect(here: Origin, nxt: str, redirects: int) -> tuple[str, bool]:
    try:
        there = origin(nxt)
    except ValueError as exc:
        return f"redirect to an unusable location: {exc}", True
    if there.host != here.host:
        return f"redirect to another host {there.host} not followed (Location: {display(nxt)})", True
    if here.scheme == "https" and there.scheme == "http":
        return f"redirect from https down to http not followed (Location: {display(nxt)})", True
    if redirects >= MAX_REDIRECTS:
        return f"more than {MAX_REDIRECTS} redirects (last to {display(nxt)})", True
    return "", False


async def _read_capped(response: Any) -> bytes:
    """The body up to ``MAX_BODY``: a health answer is small; a misrouted download is not read."""
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_BODY:
            break
    return b"".join(chunks)[:MAX_BODY]


async def _transport_problem(exc: Exception, router: Router, where: Origin) -> tuple[str, bool]:
    """Name what went wrong below HTTP in words an operator acts on; True if retrying is futile."""
    tls = cause(exc, ssl.SSLError)
    if isinstance(tls, ssl.SSLCertVerificationError):
        why = tls.verify_message or tls.reason or "verification failed"
        return f"TLS certificate not trusted ({why}); add the issuing CA with ca_file", True
    if tls is not None:
        return f"TLS handshake failed ({tls.reason or tls})", True
    if router.tunnel is not None:
        reason = await router.tunnel.diagnose(where)
        if reason:
            return f"{reason} on {where.netloc} as seen from host {router.tunnel.target}", False
        return f"connection closed without an answer ({type(exc).__name__})", False
    return transport_reason(exc, where.netloc), False
