"""The http tests' small real HTTP/1.1 server (optionally TLS, with a private CA) and engine helpers."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import ssl
import subprocess
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from conftest import declare, write_runbook

from actions.registry import KINDS
from console.engine import Actor, Engine
from console.model.config import load_config
from console.model.plan import build_plan
from console.model.runbook import load_runbook

ALICE = Actor("alice", "driver")
HEALTHY = {"status": "ok", "checks": {"db": "up"}, "version": "1.0.0"}
DEGRADED = {"status": "degraded", "checks": {"db": "down"}}


# ----- a small real HTTP/1.1 server -------------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    peer: tuple[str, int]
    owner: str = ""


@dataclass
class WebServer:
    """Routes: /health, /down (503), /hang, /wrong (degraded JSON), /text, /same and /other
    (redirects to this host and to 127.0.0.2), /flaky (503 until ``flaky`` requests were seen)."""

    host: str = "127.0.0.1"
    tls: ssl.SSLContext | None = None
    flaky: int = 2
    other_port: int = 0
    seen: list[Seen] = field(default_factory=list)
    sni: list[str | None] = field(default_factory=list)
    port: int = 0
    who_connects: bool = False
    """Record which process holds the client end of each connection (``ss``), while it is open."""

    async def __aenter__(self) -> WebServer:
        self._tasks: set[asyncio.Task] = set()
        if self.tls is not None:
            self.tls.sni_callback = lambda sock, name, ctx: self.sni.append(name)
        self._server = await asyncio.start_server(self._handle, self.host, 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def url(self, path: str, host: str | None = None) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host or self.host}:{self.port}{path}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)
        try:
            request = await reader.readline()
            if not request:
                return
            method, path, _ = request.decode().split(" ", 2)
            headers = {}
            while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = line.decode().partition(":")
                headers[name.strip().lower()] = value.strip()
            peer = writer.get_extra_info("peername")[:2]
            owner = await asyncio.to_thread(owner_of, peer[1]) if self.who_connects else ""
            self.seen.append(Seen(method, path, headers, peer, owner))
            status, extra, body = await self._route(path)
            head = f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\nConnection: close\r\n{extra}\r\n"
            writer.write(head.encode() + body)
            await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _route(self, path: str) -> tuple[int, str, bytes]:
        as_json = "Content-Type: application/json\r\n"
        if path == "/health":
            return 200, as_json, json.dumps(HEALTHY).encode()
        if path == "/down":
            return 503, "", b"<html>Be right back: maintenance</html>"
        if path == "/hang":
            await asyncio.sleep(3600)
        if path == "/wrong":
            return 200, as_json, json.dumps(DEGRADED).encode()
        if path == "/text":
            return 200, "", b"all good"
        if path == "/same":
            return 302, "Location: /health\r\n", b""
        if path == "/other":
            return 302, f"Location: http://127.0.0.2:{self.other_port}/health\r\n", b""
        if path == "/flaky":
            hits = sum(1 for s in self.seen if s.path == "/flaky")
            if hits <= self.flaky:
                return 503, "", b"starting"
            return 200, as_json, json.dumps(HEALTHY).encode()
        return 404, "", b"not found"


def make_ca(tmp_path: Path) -> tuple[Path, ssl.SSLContext]:
    """A private CA and a server certificate for DNS:localhost only, made with cryptography."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)

    def build(subject: str, issuer: str, key, signer, *, ca: bool):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_cert = build("warroom test CA", "warroom test CA", ca_key, ca_key, ca=True)
    server_cert = build("localhost", "warroom test CA", server_key, ca_key, ca=False)
    ca_file, cert_file, key_file = tmp_path / "ca.pem", tmp_path / "server.pem", tmp_path / "server.key"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    return ca_file, server


# ----- engine helpers ---------------------------------------------------------------------------


def http_step(step_id: str, params: str, *, targets: str | None = None, timeout: int = 30) -> str:
    where = f'targets = "{targets}"\n' if targets else ""
    return textwrap.dedent(
        f"""
        [[phases.steps]]
        id = "{step_id}"
        title = "Health {step_id}"
        kind = "http"
        timeout = {timeout}
        """
    ) + (where + f"params = {{ {params} }}\n")


def local_config(tmp_path: Path, extra: str = "") -> Path:
    """A config for steps that run from the warroom machine: its one host is never contacted."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    known = tmp_path / "known_hosts"
    known.write_text("")
    path = tmp_path / "config.toml"
    path.write_text(
        textwrap.dedent(
            f"""
            [environment]
            name = "test"
            state_dir = "{tmp_path / "state"}"

            [hosts.app1]
            address = "127.0.0.1"
            port = 1
            user = "deploy"
            known_hosts = "{known}"
            """
        )
        + textwrap.dedent(extra)
    )
    return path


HEALTH_VARIABLES = declare(health__url="url", health__expect_status=("integer", 200), health__timeout=("string", "5"))
"""What the http tests' runbooks declare: a config gives the values under ``[vars.health]``."""


def open_engine(tmp_path: Path, config_path: Path, steps: str) -> Engine:
    config = load_config(config_path)
    runbook = load_runbook(write_runbook(tmp_path / "runbook.toml", steps, variables=HEALTH_VARIABLES), KINDS)
    engine = Engine.open(
        tmp_path / "state", build_plan(runbook, config), ALICE, severity="P0", trigger="test", config=config
    )
    engine.take_seat(ALICE)
    return engine


async def run_one(tmp_path: Path, params: str, *, extra: str = "", timeout: int = 30) -> tuple[Engine, dict, str]:
    """Run a target-less http step; returns the engine (closed), the warroom result and its output."""
    engine = open_engine(tmp_path, local_config(tmp_path, extra), http_step("health", params, timeout=timeout))
    try:
        await engine.run_step(ALICE, "health")
    finally:
        await engine.aclose()
    result = engine.state.steps["health"].attempt.results["warroom"]
    output = engine.output_path("health", 1, "warroom")
    return engine, result, output.read_text() if output.exists() else ""


def owner_of(port: int) -> str:
    """The process owning the local TCP endpoint ``127.0.0.1:port`` (who connected to us)."""
    return subprocess.run(["ss", "-Htnp", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
