"""The embedded HTTP server that answers for the SalonManager app in the drill.

Every answer is computed from the sandbox state at request time, so it changes the moment a
stand-in command changes that state:

- ``GET /api/v1/health`` answers 503 ``{"status": "down", ...}`` while any service is down, and
  200 ``{"status": "ok", "version": <tag the services run>, "maintenance": true|false}`` when
  they are all up — unless ``drill --fail`` made its database check fail: then 503 with that
  check's error, services up or not;
- every other page answers 503 while the app is in maintenance mode (Laravel's maintenance
  page, with the ``artisan down --message``) or while a service is down, and 200 otherwise.

Design decision: the health endpoint is exempt from maintenance mode. The seed runbook verifies
health (``curl -f .../api/v1/health``, phase 4) *before* it disables maintenance mode, which can
only pass if the health route is excluded from Laravel's ``PreventRequestsDuringMaintenance``
middleware, as real apps configure it (the sandbox's app tree has that ``$except`` entry). So
health reports maintenance in its body instead of failing on it, and fails only while the
services are down. A drill in which the plan could never pass would teach the wrong lesson; the
runbook step's note says the same for production.
"""

from __future__ import annotations

import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlparse

from console.drill.sandbox import Sandbox
from console.model import defaults

HEALTH_PATH = urlparse(defaults.HEALTH_URL).path
"""Where the app answers its health probe: the path of the SalonManager health URL."""


HEALTH_FAILURE = "health_failure"
"""A state file: while it exists the app is up but its health check fails with its text (``--fail``)."""


def failing_check(sandbox: Sandbox) -> str | None:
    path = sandbox.state / HEALTH_FAILURE
    return path.read_text(encoding="utf-8").strip() if path.exists() else None


def health(sandbox: Sandbox) -> tuple[int, dict[str, Any]]:
    """The health endpoint's status code and body for the sandbox's current state."""
    services = sandbox.services()
    maintenance = sandbox.maintenance() is not None
    failing = failing_check(sandbox)
    if failing is not None:
        body = {"status": "down", "checks": {"database": failing}, "maintenance": maintenance}
        return HTTPStatus.SERVICE_UNAVAILABLE, body
    if any(state != "up" for state in services.values()):
        return HTTPStatus.SERVICE_UNAVAILABLE, {"status": "down", "services": services, "maintenance": maintenance}
    return HTTPStatus.OK, {"status": "ok", "version": sandbox.running_version(), "maintenance": maintenance}


def page(sandbox: Sandbox, path: str) -> tuple[int, str]:
    message = sandbox.maintenance()
    if message is not None:
        return HTTPStatus.SERVICE_UNAVAILABLE, f"<h1>503 Service Unavailable</h1><p>{message or 'Be right back.'}</p>"
    if any(state != "up" for state in sandbox.services().values()):
        return HTTPStatus.SERVICE_UNAVAILABLE, "<h1>503 Service Unavailable</h1><p>The application is not running.</p>"
    return HTTPStatus.OK, f"<h1>SalonManager {sandbox.running_version()}</h1><p>{path}</p>"


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "SalonManager-drill"

    def do_GET(self) -> None:
        sandbox = self.server.sandbox
        path = self.path.split("?", 1)[0]
        if path == HEALTH_PATH:
            code, body = health(sandbox)
            self._send(code, "application/json", json.dumps(body))
        else:
            code, text = page(sandbox, path)
            self._send(code, "text/html; charset=utf-8", text)

    def do_HEAD(self) -> None:
        self.do_GET()

    def _send(self, code: int, kind: str, text: str) -> None:
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        if code == HTTPStatus.SERVICE_UNAVAILABLE:
            self.send_header("Retry-After", "60")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        with (self.server.sandbox.logs / "http.log").open("a", encoding="utf-8") as handle:
            handle.write(f"{self.log_date_time_string()} {format % args}\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.sandbox = sandbox


class HealthServer:
    """The app's HTTP endpoint on 127.0.0.1, served from a thread of its own."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._server = _Server(sandbox)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="drill-http", daemon=True)

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{HEALTH_PATH}"

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
