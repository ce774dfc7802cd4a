"""A stand-in Docker Engine API for the drill, so the runbook's compose-status step runs there too.

It answers the few read-only calls a compose status check makes — ``/_ping``, the container
list filtered by compose labels, and container inspection — on a unix socket in the sandbox,
from the sandbox state the docker-compose stand-in changes: a service is a running, healthy
container of image ``salonmanager/<service>:<checked-out tag>`` while it is up, an exited one
while it is down. The drill's SSH server forwards the host's ``/var/run/docker.sock`` there, as
sshd forwards the real socket on a production host. Anything else answers 501: the drill does
not pretend to be an engine it is not.
"""

from __future__ import annotations

import json
import socketserver
import tempfile
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from console.drill import tools
from console.drill.sandbox import Sandbox
from console.model import defaults

API_VERSION = "1.41"
PROJECT = defaults.COMPOSE_PROJECT
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


def containers(sandbox: Sandbox) -> list[dict[str, Any]]:
    """The project's containers as the engine lists them, from the sandbox's service state."""
    version = sandbox.running_version() or "unknown"
    found = []
    for number, (unit, state) in enumerate(sorted(sandbox.services().items()), start=1):
        service = unit.removeprefix(f"{PROJECT}-")
        up = state == "up"
        found.append(
            {
                "Id": f"{number:02d}" + "d" * 62,
                "Names": [f"/{PROJECT}-{service}-1"],
                "Image": f"{PROJECT}/{service}:{version}",
                "State": "running" if up else "exited",
                "Status": "Up (healthy)" if up else f"Exited ({1 if state == tools.CRASHED else 0})",
                "Labels": {PROJECT_LABEL: PROJECT, SERVICE_LABEL: service},
                "Health": {"Status": "healthy" if up else ""},
            }
        )
    return found


def _matches(container: dict[str, Any], filters: dict[str, list[str]]) -> bool:
    for wanted in filters.get("label", []):
        key, _, value = wanted.partition("=")
        labels = container["Labels"]
        if key not in labels or (value and labels[key] != value):
            return False
    return True


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def address_string(self) -> str:  # a unix socket has no client address
        return "docker.sock"

    def do_GET(self) -> None:
        url = urlparse(self.path)
        path = url.path.split("/", 2)[-1] if url.path.startswith("/v1.") else url.path.lstrip("/")
        sandbox = self.server.sandbox
        if path == "_ping":
            self._send(HTTPStatus.OK, "OK", "text/plain")
        elif path == "version":
            self._send(HTTPStatus.OK, json.dumps({"ApiVersion": API_VERSION, "Version": "drill"}))
        elif path == "containers/json":
            query = parse_qs(url.query)
            filters = json.loads(query.get("filters", ["{}"])[0] or "{}")
            if isinstance(filters.get("label"), dict):  # the older map form {"k=v": true}
                filters["label"] = list(filters["label"])
            listed = [c for c in containers(sandbox) if _matches(c, filters)]
            if query.get("all", ["0"])[0] in ("0", "false", ""):
                listed = [c for c in listed if c["State"] == "running"]
            self._send(HTTPStatus.OK, json.dumps(listed))
        elif path.startswith("containers/") and path.endswith("/json"):
            ident = path.split("/")[1]
            match = next((c for c in containers(sandbox) if c["Id"].startswith(ident) or ident in c["Names"][0]), None)
            if match is None:
                self._send(HTTPStatus.NOT_FOUND, json.dumps({"message": f"No such container: {ident}"}))
                return
            health = {"Status": match["Health"]["Status"], "Log": []}
            state = {"Status": match["State"], "Running": match["State"] == "running", "Health": health}
            self._send(HTTPStatus.OK, json.dumps({**match, "State": state, "Config": {"Labels": match["Labels"]}}))
        else:
            self._send(HTTPStatus.NOT_IMPLEMENTED, json.dumps({"message": f"the drill does not rehearse {path}"}))

    def do_HEAD(self) -> None:
        self.do_GET()

    def _send(self, code: int, body: str, kind: str = "application/json") -> None:
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Api-Version", API_VERSION)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        with (self.server.sandbox.logs / "docker-api.log").open("a", encoding="utf-8") as handle:
            handle.write(f"{format % args}\n")


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, sandbox: Sandbox, path: Path) -> None:
        super().__init__(str(path), _Handler)
        self.sandbox = sandbox


class DockerAPI:
    """The stand-in engine on ``<sandbox>/run/docker.sock``, served from a thread."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.path = sandbox.root / "run" / "docker.sock"
        if len(str(self.path).encode()) > 100:  # AF_UNIX paths are limited to 108 bytes
            self.path = Path(tempfile.mkdtemp(prefix="warroom-drill-docker-")) / "docker.sock"
        self.path.parent.mkdir(mode=0o700, exist_ok=True)
        self._server = _Server(sandbox, self.path)
        self._thread = threading.Thread(target=self._server.serve_forever, name="drill-docker", daemon=True)

    def start(self) -> DockerAPI:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self.path.unlink(missing_ok=True)
        if self.path.parent.name.startswith("warroom-drill-docker-"):
            self.path.parent.rmdir()
