"""http steps against real HTTP(S) servers on loopback, through the real engine.

These run from the warroom machine (no targets); test_http_tunnel.py goes through a real sshd
lab host.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from conftest import write_runbook
from http_support import ALICE, WebServer, http_step, local_config, make_ca, open_engine, run_one

from actions.http import HttpAction
from actions.registry import KINDS
from console.model.config import load_config
from console.model.errors import RunbookError
from console.model.plan import build_plan
from console.model.runbook import load_runbook


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


async def test_url_status_and_timeout_come_from_variables(tmp_path, web):
    extra = f"""
        [vars.health]
        url = "{web.url("/down")}"
        expect_status = 503
        timeout = "2.0"
        """
    given = 'url = "{{ health.url }}", expect_status = "{{ health.expect_status }}", timeout = "{{ health.timeout }}"'
    engine, result, _ = await run_one(tmp_path, given + ', expect_body = "maintenance"', extra=extra)
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
        'expect status 200, json status = "ok"; '
        "retry until 20s (backoff up to 5s), 3s per request"
    )
