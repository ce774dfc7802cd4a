"""http steps against real HTTP(S) servers on loopback, through the real engine.

The direct cases run from the warroom machine (no targets); the tunnel cases go through a real
sshd lab host to a server that listens on 127.0.0.1 while the URL says ``localhost``, like the
seed's ``curl -f http://localhost:8000/api/v1/health`` that runs ON the host.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import ssl
import subprocess
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import write_config, write_runbook

from actions.http import HttpAction
from actions.registry import KINDS
from console.engine import Actor, Engine
from console.model.config import load_config
from console.model.errors import RunbookError
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


def open_engine(tmp_path: Path, config_path: Path, steps: str) -> Engine:
    config = load_config(config_path)
    runbook = load_runbook(write_runbook(tmp_path / "runbook.toml", steps), KINDS)
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


@pytest.fixture
async def web():
    async with WebServer() as other, WebServer(host="127.0.0.2") as elsewhere:
        other.other_port = elsewhere.port
        other.elsewhere = elsewhere
        yield other


# ----- direct checks ------------------------------------------------------------------------------


async def test_healthy_endpoint_with_status_body_and_json_fields(tmp_path, web):
    params = (
        f'url = "{web.url("/health")}", expect_body = "ok", '
        'expect_json = { status = "ok", "checks.db" = "up", version = "1.0.0" }'
    )
    engine, result, output = await run_one(tmp_path, params)
    assert engine.state.steps["health"].status == "succeeded", result
    facts = result["facts"]
    assert facts["healthy"] is True and facts["status"] == 200 and facts["attempts"] == 1
    assert facts["via"] == "direct" and facts["url"] == web.url("/health")
    assert 0 < facts["latency_ms"] < 2000
    assert facts["history"] == [{"attempt": 1, "status": 200, "latency_ms": facts["latency_ms"]}]
    assert "attempt 1: 200 in " in output and "healthy" in output
    assert web.seen[0].headers["host"] == f"127.0.0.1:{web.port}"


async def test_defaults_come_from_the_health_section(tmp_path, web):
    extra = f"""
        [health]
        url = "{web.url("/down")}"
        expect_status = 503
        timeout = 2.0
        """
    engine, result, _ = await run_one(tmp_path, 'expect_body = "maintenance"', extra=extra)
    assert engine.state.steps["health"].status == "succeeded", result
    assert result["facts"]["status"] == 503
    assert [s.path for s in web.seen] == ["/down"]


async def test_503_fails_with_one_line_naming_step_and_url(tmp_path, web):
    engine, result, output = await run_one(tmp_path, f'url = "{web.url("/down")}"')
    assert engine.state.steps["health"].status == "failed"
    error = result["error"]
    assert error.startswith(f"warroom: step health: GET {web.url('/down')}: status 503, expected 200")
    assert "maintenance" in error and "\n" not in error
    assert result["facts"]["healthy"] is False and result["facts"]["status"] == 503
    assert "attempt 1: 503" in output


async def test_hanging_endpoint_times_out_per_request(tmp_path, web):
    started = time.monotonic()
    engine, result, _ = await run_one(tmp_path, f'url = "{web.url("/hang")}", timeout = 0.5')
    assert time.monotonic() - started < 5
    assert engine.state.steps["health"].status == "failed"
    assert "no answer within 0.5s (timed out)" in result["error"]
    assert result["facts"]["history"][0]["status"] is None
    assert 400 <= result["facts"]["latency_ms"] < 3000


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ('expect_body = "all good"', "body does not contain 'all good'"),
        ('expect_json = { status = "ok" }', 'json status is "degraded", expected "ok"'),
        ('expect_json = { checks = { db = "up" } }', 'json checks.db is "down", expected "up"'),
        ('expect_json = { "checks.cache" = "up" }', "json checks.cache is missing"),
    ],
)
async def test_wrong_body_fails(tmp_path, web, params, problem):
    engine, result, _ = await run_one(tmp_path, f'url = "{web.url("/wrong")}", {params}')
    assert engine.state.steps["health"].status == "failed"
    assert problem in result["error"], result["error"]


async def test_non_json_body_fails_a_json_expectation(tmp_path, web):
    _, result, _ = await run_one(tmp_path, f'url = "{web.url("/text")}", expect_json = {{ status = "ok" }}')
    assert "body is not JSON (body: 'all good')" in result["error"]


async def test_same_host_redirect_is_followed(tmp_path, web):
    engine, result, _ = await run_one(tmp_path, f'url = "{web.url("/same")}", expect_json = {{ status = "ok" }}')
    assert engine.state.steps["health"].status == "succeeded", result
    assert result["facts"]["redirects"] == 1
    assert [s.path for s in web.seen] == ["/same", "/health"]


async def test_cross_host_redirect_is_not_followed_nor_retried(tmp_path, web):
    params = f'url = "{web.url("/other")}", retry_until = 10'
    started = time.monotonic()
    engine, result, _ = await run_one(tmp_path, params)
    assert time.monotonic() - started < 3  # a final problem: no retries until the deadline
    assert engine.state.steps["health"].status == "failed"
    assert "redirect to another host 127.0.0.2 not followed" in result["error"]
    assert f"warroom: step health: GET {web.url('/other')}" in result["error"]
    assert web.elsewhere.seen == []
    assert result["facts"]["attempts"] == 1


async def test_retries_until_healthy_with_every_attempt_recorded(tmp_path, web):
    engine, result, output = await run_one(tmp_path, f'url = "{web.url("/flaky")}", retry_until = 20')
    assert engine.state.steps["health"].status == "succeeded", result
    history = result["facts"]["history"]
    assert [a["status"] for a in history] == [503, 503, 200]
    assert all(a["latency_ms"] > 0 for a in history)
    assert "expected 200" in history[0]["problem"] and "problem" not in history[-1]
    assert [line.split(":")[0] for line in output.splitlines() if line.startswith("attempt")] == [
        "attempt 1",
        "attempt 2",
        "attempt 3",
    ]


async def test_retry_deadline_bounds_a_failing_check(tmp_path, web):
    started = time.monotonic()
    _, result, _ = await run_one(tmp_path, f'url = "{web.url("/down")}", retry_until = 2')
    elapsed = time.monotonic() - started
    assert 1.9 < elapsed < 5
    assert result["facts"]["attempts"] >= 3  # 0.5 s, then 1 s of backoff
    assert result["error"].endswith(f"(after {result['facts']['attempts']} attempts)")


async def test_connection_refused(tmp_path, web):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    _, result, _ = await run_one(tmp_path, f'url = "http://127.0.0.1:{closed}/health"')
    assert result["error"] == (
        f"warroom: step health: GET http://127.0.0.1:{closed}/health: connection refused by 127.0.0.1:{closed}"
    )


async def test_credentials_in_a_url_are_refused_before_anything_is_sent(tmp_path, web):
    """A plan is journaled and shown as written, so a password in a URL is refused at plan time."""
    url = f"http://probe:hunter2pw@127.0.0.1:{web.port}/down"
    with pytest.raises(RunbookError) as caught:
        open_engine(tmp_path, local_config(tmp_path), http_step("health", f'url = "{url}"'))
    assert "has credentials written in a URL" in str(caught.value)
    assert "hunter2pw" not in str(caught.value)
    assert web.seen == []


async def test_cancel_stops_a_retrying_check(tmp_path, web):
    engine = open_engine(
        tmp_path,
        local_config(tmp_path),
        http_step("health", f'url = "{web.url("/down")}", retry_until = 25', timeout=60),
    )
    try:
        task = engine.start_step(ALICE, "health")
        while not web.seen:
            await asyncio.sleep(0.02)
        started = time.monotonic()
        engine.cancel_step(ALICE, "health")
        await asyncio.wait_for(task, 5)
        assert time.monotonic() - started < 1
        assert engine.state.steps["health"].status == "cancelled"
    finally:
        await engine.aclose()


# ----- TLS ------------------------------------------------------------------------------------------


async def test_tls_is_verified_and_ca_file_adds_a_private_ca(tmp_path):
    ca_file, server_tls = make_ca(tmp_path)
    async with WebServer(tls=server_tls) as web:
        url = web.url("/health", host="localhost")
        _, result, _ = await run_one(tmp_path / "untrusted", f'url = "{url}", via_ssh = false')
        assert "TLS certificate not trusted" in result["error"] and "ca_file" in result["error"]
        assert web.seen == []  # nothing was sent over the unverified connection
        engine, result, _ = await run_one(
            tmp_path / "trusted", f'url = "{url}", via_ssh = false, ca_file = "{ca_file}"'
        )
        assert engine.state.steps["health"].status == "succeeded", result
        assert web.sni[-1] == "localhost"
        # the certificate names localhost only: the same server by address is refused
        _, result, _ = await run_one(
            tmp_path / "by-ip", f'url = "{web.url("/health")}", ca_file = "{ca_file}", via_ssh = false'
        )
        assert "TLS certificate not trusted" in result["error"] and "127.0.0.1" in result["error"]


async def test_missing_ca_file_is_a_clear_step_error(tmp_path, web):
    engine, result, _ = await run_one(tmp_path, f'url = "{web.url("/health")}", ca_file = "/nonexistent/ca.pem"')
    assert engine.state.steps["health"].status == "failed"
    assert result["error"] == "step health: ca_file /nonexistent/ca.pem does not exist"


# ----- runbook checks and plan --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ('url = "https://x", verify = false', "TLS verification is always on"),
        ('url = "https://x", retries = 3', "unknown http parameter(s) retries"),
        ('url = "https://x", retry_until = 60', "must be shorter than the step timeout (30s)"),
        ('url = "https://x", expect_status = "200"', "params.expect_status: expected int"),
        ('url = "https://x", expect_json = "ok"', "params.expect_json: expected table"),
        ('url = "ftp://x/"', "is not an http:// or https:// URL"),
        ('url = "https://x", via_ssh = true', "via_ssh = true needs targets"),
        ('url = "https://x", method = "POST"', "'POST' is not one of GET, HEAD"),
    ],
)
def test_bad_params_are_runbook_errors_at_load(tmp_path, params, problem):
    with pytest.raises(RunbookError) as err:
        load_runbook(write_runbook(tmp_path / "runbook.toml", http_step("h", params)), KINDS)
    message = str(err.value)
    assert problem in message and "phases[0].steps[0]" in message and "runbook.toml:" in message


def test_plan_shows_method_url_route_expectations_and_deadline(tmp_path):
    config = load_config(local_config(tmp_path))
    params = 'url = "https://status.example.com/health", expect_json = { status = "ok" }, retry_until = 20, timeout = 3'
    runbook = load_runbook(write_runbook(tmp_path / "runbook.toml", http_step("h", params)), KINDS)
    step = build_plan(runbook, config).steps["h"]
    [command] = HttpAction().plan(step)
    assert command.host == "warroom"
    assert command.text == (
        "GET https://status.example.com/health from the warroom machine; "
        'expect status from [health] (default 200), json status = "ok"; '
        "retry until 20s (backoff up to 5s), 3s per request"
    )


# ----- through an SSH tunnel to the host's own localhost ------------------------------------------


def owner_of(port: int) -> str:
    """The process owning the local TCP endpoint ``127.0.0.1:port`` (who connected to us)."""
    return subprocess.run(["ss", "-Htnp", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout


@pytest.mark.sshd
async def test_localhost_url_goes_through_ssh_to_the_host(tmp_path, lab):
    ca_file, server_tls = make_ca(tmp_path)
    async with WebServer(who_connects=True) as web, WebServer(tls=server_tls) as secure:
        steps = (
            http_step(
                "plain", f'url = "http://localhost:{web.port}/same", expect_json = {{ status = "ok" }}', targets="app"
            )
            + http_step(
                "secure", f'url = "https://localhost:{secure.port}/health", ca_file = "{ca_file}"', targets="app"
            )
            + http_step("refused", 'url = "http://localhost:1/health"', targets="app")
        )
        config = write_config(tmp_path / "config.toml", lab, ["h1"])
        engine = open_engine(tmp_path, config, steps)
        try:
            assert await engine.run_step(ALICE, "plain") == "succeeded"
            assert await engine.run_step(ALICE, "secure") == "succeeded"
            assert await engine.run_step(ALICE, "refused") == "failed"
        finally:
            await engine.aclose()
    facts = engine.state.steps["plain"].attempt.results["h1"]["facts"]
    assert facts["via"] == "ssh h1" and facts["redirects"] == 1
    assert [s.headers["host"] for s in web.seen] == [f"localhost:{web.port}"] * 2
    # the requests reached the server from the host's sshd, not from this process
    assert all('(("sshd"' in s.owner for s in web.seen), [s.owner for s in web.seen]
    assert secure.sni == ["localhost"] and secure.seen[0].headers["host"] == f"localhost:{secure.port}"
    error = engine.state.steps["refused"].attempt.results["h1"]["error"]
    assert error.startswith("host h1: step refused: GET http://localhost:1/health through SSH: connection refused")
    assert "as seen from host h1" in error
    plan_text = HttpAction().plan(engine.plan.steps["plain"])[0].text
    assert plan_text.startswith(f"GET http://localhost:{web.port}/same through an SSH tunnel to h1;")


@pytest.mark.sshd
async def test_unreachable_host_names_host_step_and_url(tmp_path, lab):
    config = write_config(tmp_path / "config.toml", lab, ["h1"])
    lab.hosts["h1"].stop()
    engine = open_engine(
        tmp_path, config, http_step("down", 'url = "http://localhost:8000/api/v1/health"', targets="app")
    )
    try:
        assert await engine.run_step(ALICE, "down") == "failed"
    finally:
        await engine.aclose()
    error = engine.state.steps["down"].attempt.results["h1"]["error"]
    assert "host h1" in error and "cannot connect" in error
    assert error.endswith("(step down, GET http://localhost:8000/api/v1/health)")
