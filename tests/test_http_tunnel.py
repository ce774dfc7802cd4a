"""http steps through a real sshd lab host to a server that listens on 127.0.0.1 while the URL
says ``localhost``, like the seed's ``curl -f http://localhost:8000/api/v1/health`` that runs ON
the host.
"""

from __future__ import annotations

import pytest
from conftest import write_config
from http_support import ALICE, WebServer, http_step, make_ca, open_engine

from actions.http import HttpAction


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
