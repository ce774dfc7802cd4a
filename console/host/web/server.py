"""The status page's HTTP server (aiohttp): GET only, read-only, nothing reaches the engine's commands.

Routes, under the incident's token (``/i/TOKEN/``) or, for configured viewers over HTTPS, at the
root with basic auth: the page, ``events`` (server-sent events: the page's live part, pushed
within a fraction of a second of each journal record) and ``report.html`` (the incident report,
rebuilt from the journal). A request without a valid token or password gets 401; any method but
GET/HEAD gets 405. No access log is written: the token is in the URL.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from pathlib import Path
from typing import Any

from aiohttp import web

from console.engine import Engine
from console.host.web.access import Access, Viewer, incident_token
from console.host.web.live import CLOSED, LiveState
from console.host.web.page import PageRenderer
from console.host.web.presence import COOKIE, WebPresence, new_browser_id, valid_browser_id
from console.host.web.reports import ReportCache, closed_summary
from console.model.errors import WarroomError
from console.model.webconfig import Web

log = logging.getLogger("warroom.web")

HEARTBEAT = 15.0
"""Seconds between keep-alive comments on an idle event stream (a dead browser is noticed)."""
WRITE_TIMEOUT = 30.0
"""A browser that takes longer than this to take one update is dropped (it reconnects)."""
SHUTDOWN_TIMEOUT = 1.0

_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the token is in the URL: never sent on to another site
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cache-Control": "no-store",
}
_DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'"
_REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"


class WebServer:
    """The page of one engine's incident, on ``address:port`` (port 0: any free one)."""

    def __init__(self, engine: Engine, web_config: Web, address: str, port: int, *, secrets: list[str]) -> None:
        self.engine = engine
        self.config = web_config
        self.address = address
        self.requested_port = port
        self.port: int | None = None
        self.https = bool(web_config.certificate)
        self.access: Access | None = None
        linger = 2 * web_config.refresh + 10
        self.presence = WebPresence(engine, linger=linger, limit=web_config.max_viewers)
        self.renderer = PageRenderer(web_config.refresh)
        self.live = LiveState(
            engine,
            self.renderer,
            browsers=lambda: self.presence.browsers,
            show_output=web_config.show_output,
            output_lines=web_config.output_lines,
        )
        self.reports = ReportCache(engine.directory, secrets)
        self._runner: web.AppRunner | None = None
        self.pages_served = 0

    # ----- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> int:
        token = incident_token(self.engine.directory) if self.config.token else None
        if token is not None:
            self.engine.redactor.add(token)  # masked wherever it could turn up: logs, journal, output
        self.access = Access(self.config, token, https=self.https, redactor=self.engine.redactor)
        context = tls_context(self.config) if self.https else None
        app = web.Application(client_max_size=1024)  # GET only: no request has a body worth reading
        app.on_response_prepare.append(_secure_headers)
        app.router.add_get("/i/{token}/", self._page)
        app.router.add_get("/i/{token}", self._slash)
        app.router.add_get("/i/{token}/events", self._events, allow_head=False)
        app.router.add_get("/i/{token}/report.html", self._report)
        app.router.add_get("/", self._page)
        app.router.add_get("/events", self._events, allow_head=False)
        app.router.add_get("/report.html", self._report)
        self.live.report_builder = lambda: closed_summary(self.reports.build())
        self.live.start()
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT)
        await runner.setup()
        self._runner = runner
        site = web.TCPSite(runner, self.address, self.requested_port, ssl_context=context)
        try:
            await site.start()
        except OSError as exc:
            await self.close()
            where = f"{self.address}:{self.requested_port}"
            reason = exc.strerror or str(exc)
            raise WarroomError(f"web {where}: cannot listen: {reason}", title="Cannot serve the page") from None
        self.port = runner.addresses[0][1]
        return self.port

    @property
    def url(self) -> str:
        """The link for stakeholders (with the token), or the root when only viewers may log in."""
        scheme = "https" if self.https else "http"
        host = self.address if self.address not in ("0.0.0.0", "::", "") else "HOST"
        host = f"[{host}]" if ":" in host else host
        base = f"{scheme}://{host}:{self.port}/"
        token = self.access.token if self.access else None
        return f"{base}i/{token}/" if token else base

    async def close(self) -> None:
        self.live.close()  # every stream ends now
        self.presence.close()
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    # ----- requests -------------------------------------------------------------------------------
    def _viewer(self, request: web.Request) -> Viewer:
        assert self.access is not None
        token = request.match_info.get("token")
        viewer = (
            self.access.by_token(token)
            if token is not None
            else self.access.by_password(request.headers.get("Authorization"))
        )
        if viewer is None:
            headers = {}
            if token is None and self.access.asks_password:
                headers["WWW-Authenticate"] = 'Basic realm="warroom status page", charset="UTF-8"'
            text = "401: this page needs its link (with the token) or a login\n"
            raise web.HTTPUnauthorized(text=text, headers=headers)
        return viewer

    def _browser(self, request: web.Request) -> tuple[str, bool]:
        """The browser's id from its cookie, or a new one (True: set the cookie)."""
        cookie = request.cookies.get(COOKIE)
        return (cookie, False) if cookie and valid_browser_id(cookie) else (new_browser_id(), True)

    def _remember(self, response: web.StreamResponse, browser: str, new: bool) -> None:
        if new:
            response.set_cookie(COOKIE, browser, httponly=True, samesite="Strict", secure=self.https, path="/")

    async def _slash(self, request: web.Request) -> web.StreamResponse:
        self._viewer(request)
        raise web.HTTPFound(f"/i/{request.match_info['token']}/")

    async def _page(self, request: web.Request) -> web.StreamResponse:
        viewer = self._viewer(request)
        browser, new = self._browser(request)
        if self.presence.full(browser):
            raise web.HTTPServiceUnavailable(text="503: too many viewers at once; try again in a minute\n")
        if self.presence.seen(browser, viewer.name):
            self.live.render()  # the page this browser gets counts it among the watchers
        html, csp = self.renderer.page(self.live.view, self.live.live)
        self.pages_served += 1
        response = web.Response(text=html, content_type="text/html", charset="utf-8")
        response.headers["Content-Security-Policy"] = csp
        self._remember(response, browser, new)
        return response

    async def _events(self, request: web.Request) -> web.StreamResponse:
        viewer = self._viewer(request)
        browser, new = self._browser(request)
        if self.presence.streams >= self.config.max_viewers or self.presence.full(browser):
            raise web.HTTPServiceUnavailable(text="503: too many live viewers; the page reloads itself instead\n")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "X-Accel-Buffering": "no"})
        self._remember(response, browser, new)
        await response.prepare(request)
        self.presence.stream_opened(browser, viewer.name)
        try:
            await self._stream(response)
        except (ConnectionError, TimeoutError):
            pass  # the browser went (or was too slow): it reconnects by itself
        finally:
            self.presence.stream_closed(browser)
        return response

    async def _stream(self, response: web.StreamResponse) -> None:
        version = self.live.version
        await response.write(b"retry: 2000\n\n" + self.live.payload)
        while True:
            update: Any = await self.live.wait(version, HEARTBEAT)
            if update is CLOSED:
                return
            async with asyncio.timeout(WRITE_TIMEOUT):
                if update is None:
                    await response.write(b": keep-alive\n\n")
                else:
                    version, payload = update
                    await response.write(payload)

    async def _report(self, request: web.Request) -> web.StreamResponse:
        self._viewer(request)
        try:
            html = await self.reports.html(self.engine.state.seq)
        except WarroomError as exc:
            raise web.HTTPServiceUnavailable(text=f"503: the report cannot be built: {exc}\n") from None
        response = web.Response(text=html, content_type="text/html", charset="utf-8")
        response.headers["Content-Security-Policy"] = _REPORT_CSP
        return response


def tls_context(config: Web) -> ssl.SSLContext:
    """The server's TLS context from ``[web] certificate`` and ``key``; one line if they do not load."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(Path(config.certificate).expanduser(), Path(config.key).expanduser())
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
        raise WarroomError(
            f"web.certificate {config.certificate} / web.key {config.key}: cannot load: {reason}",
            title="Cannot serve the page",
        ) from None
    return context


async def _secure_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in _HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers["Server"] = "warroom"  # not which Python and aiohttp answer
    response.headers.setdefault("Content-Security-Policy", _DEFAULT_CSP)
    if request.secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
