"""Docker steps through the real engine: this machine's dockerd stands for the host's, reached
through a real sshd lab host (its socket forwarded over SSH) or directly by ``base_url``.

Containers are busybox with compose labels, one compose project per test, all removed afterwards.
"""

from __future__ import annotations

import asyncio
import stat
import time
from pathlib import Path

import pytest
from docker_support import ALICE, BUSYBOX, PROJECT_LABEL, SOCKET, docker_step, open_engine, output, result, web_and_api

# client and app_image (one per module) and project (one per test): the real dockerd, cleaned up after.
pytest_plugins = ["docker_fixtures"]
pytestmark = pytest.mark.sshd


# ----- status ------------------------------------------------------------------------------------


async def test_status_ok_over_the_forwarded_socket(tmp_path, lab, project, app_image):
    web_and_api(project, f"{app_image}:v0.9.0")
    step = docker_step("st", operation="status", project=project.name, expect_image_tag="v0.9.0", wait=15)
    engine = open_engine(tmp_path, lab, step)
    try:
        assert await engine.run_step(ALICE, "st") == "succeeded", result(engine, "st")
        text = output(engine, "st")
        assert "docker engine: unix:///var/run/docker.sock on app1 (forwarded over SSH)" in text
        assert "SERVICE" in text and f"{project.name}-web-1" in text and f"{project.name}-api-1" in text
        assert "OK: every service running, healthy, on tag v0.9.0" in text
        facts = result(engine, "st")["facts"]
        assert facts["project"] == project.name
        web, api = facts["services"]["web"], facts["services"]["api"]
        assert web["health"] == "healthy" and web["running"] == 1 and web["ok"]
        assert api["health"] is None and api["images"] == [f"{app_image}:v0.9.0"]
    finally:
        await engine.aclose()


async def test_status_fails_for_a_stopped_service_and_for_a_wrong_image_tag(tmp_path, lab, project, app_image):
    project.run("web", image=f"{app_image}:v0.9.0")
    project.run("api", image=f"{app_image}:v1.0.0")
    steps = docker_step("tag", operation="status", project=project.name, expect_image_tag="v0.9.0") + docker_step(
        "down", operation="status", project=project.name, services=["web", "api"]
    )
    engine = open_engine(tmp_path, lab, steps)
    try:
        assert await engine.run_step(ALICE, "tag") == "failed"
        error = result(engine, "tag")["error"]
        assert f"{project.name}-api-1 runs {app_image}:v1.0.0 (tag v1.0.0), expected tag v0.9.0" in error
        assert "web" not in error
        assert f"FAIL: runs {app_image}:v1.0.0 (tag v1.0.0), expected tag v0.9.0" in output(engine, "tag")
        assert result(engine, "tag")["facts"]["services"]["web"]["ok"] is True

        project.client.containers.get(f"{project.name}-api-1").stop(timeout=1)
        assert await engine.run_step(ALICE, "down") == "failed"
        error = result(engine, "down")["error"]
        assert f"{project.name}-api-1 is exited" in error
        assert result(engine, "down")["facts"]["services"]["api"]["running"] == 0
    finally:
        await engine.aclose()


async def test_unhealthy_service_fails_with_its_probe_output(tmp_path, lab, project):
    project.run(
        "web",
        healthcheck={"test": ["CMD-SHELL", "echo db-unreachable; exit 1"], "interval": 200_000_000, "retries": 1},
    )
    engine = open_engine(tmp_path, lab, docker_step("st", operation="status", project=project.name, wait=1))
    try:
        deadline = time.monotonic() + 10
        while "(unhealthy)" not in project.client.api.containers(all=True, filters={"name": project.name})[0]["Status"]:
            assert time.monotonic() < deadline, "container never became unhealthy"
            await asyncio.sleep(0.2)
        assert await engine.run_step(ALICE, "st") == "failed"
        assert "is unhealthy: db-unreachable" in result(engine, "st")["error"]
    finally:
        await engine.aclose()


# ----- loud errors ---------------------------------------------------------------------------------


async def test_wrong_project_and_wrong_service_are_loud_errors(tmp_path, lab, project):
    project.run("web")
    project.run("api")
    wrong = f"{project.name}x"
    steps = (
        docker_step("proj", operation="status", project=wrong)
        + docker_step("svc", operation="stop", project=project.name, services=["web", "nope"])
        + docker_step("logs", operation="logs", project=project.name, services="nope")
    )
    engine = open_engine(tmp_path, lab, steps)
    try:
        assert await engine.run_step(ALICE, "proj") == "failed"
        error = result(engine, "proj")["error"]
        assert f"no containers with label {PROJECT_LABEL}={wrong} on host app1; projects there:" in error
        assert project.name in error.split("projects there:")[1]

        assert await engine.run_step(ALICE, "svc") == "failed"
        error = result(engine, "svc")["error"]
        assert f"no service nope in compose project {project.name} on host app1" in error
        assert "services there: api, web" in error
        assert project.state("web") == "running"  # nothing was touched

        assert await engine.run_step(ALICE, "logs") == "failed"
        assert "no service nope" in engine.state.steps["logs"].attempt.error
    finally:
        await engine.aclose()


async def test_missing_socket_on_the_host_is_diagnosed(tmp_path, lab, project):
    project.run("web")
    step = docker_step("st", operation="status", project=project.name, socket="/run/no-such-docker.sock")
    engine = open_engine(tmp_path, lab, step)
    try:
        assert await engine.run_step(ALICE, "st") == "failed"
        error = result(engine, "st")["error"]
        assert "cannot reach the Docker engine at /run/no-such-docker.sock over SSH" in error
        assert "there is no /run/no-such-docker.sock on the host" in error
    finally:
        await engine.aclose()


# ----- stop, start, logs -----------------------------------------------------------------------------


async def test_stop_then_start_a_service(tmp_path, lab, project):
    project.run("web")
    project.run("api")
    steps = docker_step("stop", operation="stop", project=project.name, services=["api"], stop_timeout=5)
    steps += docker_step("start", operation="start", project=project.name)
    engine = open_engine(tmp_path, lab, steps)
    try:
        assert await engine.run_step(ALICE, "stop") == "succeeded", result(engine, "stop")
        assert project.state("api") == "exited"
        assert project.state("web") == "running"
        facts = result(engine, "stop")["facts"]
        assert facts["changed"] == [f"{project.name}-api-1"] and facts["services"] == ["api"]
        assert "running  exited" in output(engine, "stop")

        assert await engine.run_step(ALICE, "start") == "succeeded", result(engine, "start")
        assert project.state("api") == "running"
        facts = result(engine, "start")["facts"]
        assert facts["changed"] == [f"{project.name}-api-1"]
        assert facts["unchanged"] == [f"{project.name}-web-1"]
    finally:
        await engine.aclose()


async def test_stop_that_outlasts_the_step_times_out_promptly(tmp_path, lab, project):
    project.run("web", init=False)  # sleep as PID 1 ignores SIGTERM: the engine waits stop_timeout
    engine = open_engine(
        tmp_path, lab, docker_step("stop", operation="stop", project=project.name, stop_timeout=20, timeout=2)
    )
    try:
        started = time.monotonic()
        assert await engine.run_step(ALICE, "stop") == "timed_out"
        assert time.monotonic() - started < 5
        assert "timed out after 2s" in result(engine, "stop")["error"]
    finally:
        await engine.aclose()


async def test_logs_stream_into_the_spool_with_a_bounded_follow(tmp_path, lab, project):
    project.run("web", "echo web-start; i=0; while true; do i=$((i+1)); echo web-tick-$i; sleep 0.2; done")
    project.run("api", "for i in 1 2 3 4 5; do echo api-line-$i; done; sleep 0.3; echo api-err >&2; sleep 300")
    await asyncio.sleep(1.0)
    steps = docker_step("tail", operation="logs", project=project.name, services=["api"], tail=2)
    steps += docker_step("follow", operation="logs", project=project.name, tail="all", follow=1.5)
    engine = open_engine(tmp_path, lab, steps)
    progress = []
    engine.subscribe(lambda e: progress.append(e) if getattr(e, "unit", None) == "s" else None)
    try:
        assert await engine.run_step(ALICE, "tail") == "succeeded", result(engine, "tail")
        lines = [line for line in output(engine, "tail").splitlines() if " | " in line]
        assert lines == [f"{project.name}-api-1 | api-line-5", f"{project.name}-api-1 | api-err"]

        before = project.client.containers.get(f"{project.name}-web-1").logs().decode().count("web-tick")
        started = time.monotonic()
        assert await engine.run_step(ALICE, "follow") == "succeeded", result(engine, "follow")
        assert 1.4 < time.monotonic() - started < 6
        text = output(engine, "follow")
        ticks = [line for line in text.splitlines() if line.startswith(f"{project.name}-web-1 | web-tick-")]
        assert len(ticks) > before  # lines that appeared while following
        assert f"{project.name}-web-1 | web-start" in text
        assert f"{project.name}-api-1 | api-line-1" in text
        facts = result(engine, "follow")["facts"]
        assert facts["followed"] == 1.5 and facts["lines"] >= len(ticks) + 7
        assert progress, "no progress while following"
    finally:
        await engine.aclose()


async def test_cancel_stops_a_followed_log_and_removes_the_private_socket(tmp_path, lab, project):
    project.run("web", "while true; do echo tick; sleep 0.2; done")
    engine = open_engine(
        tmp_path, lab, docker_step("follow", operation="logs", project=project.name, follow=50, timeout=60)
    )
    before = set(Path("/tmp").glob("warroom-docker-*"))
    try:
        task = engine.start_step(ALICE, "follow")
        deadline = time.monotonic() + 10
        while "tick" not in (output(engine, "follow") if engine.output_path("follow", 1, "app1").exists() else ""):
            assert time.monotonic() < deadline, "no log line arrived"
            await asyncio.sleep(0.1)
        private = set(Path("/tmp").glob("warroom-docker-*")) - before
        assert private, "no forwarded socket directory"
        for directory in private:
            assert stat.S_IMODE(directory.stat().st_mode) == 0o700
            assert (directory / "docker.sock").is_socket()
        started = time.monotonic()
        engine.cancel_step(ALICE, "follow")
        await asyncio.wait_for(task, 10)
        assert time.monotonic() - started < 3
        assert engine.state.steps["follow"].status == "cancelled"
        assert not any(d.exists() for d in private)
    finally:
        await engine.aclose()


# ----- direct base_url and project from variables ---------------------------------------------------


async def test_direct_base_url_and_project_from_variables(tmp_path, lab, project):
    project.run("web")
    given = {"project": "{{ docker.compose_project }}", "base_url": "{{ docker.base_url }}"}
    steps = docker_step("st", operation="status", **given) + docker_step(
        "stop", operation="stop", stop_timeout=5, **given
    )
    engine = open_engine(tmp_path, lab, steps, docker=f'base_url = "{SOCKET}"\ncompose_project = "{project.name}"')
    try:
        assert await engine.run_step(ALICE, "st") == "succeeded", result(engine, "st")
        assert f"docker engine: {SOCKET} (params.base_url)" in output(engine, "st")
        assert result(engine, "st")["facts"]["endpoint"] == f"{SOCKET} (params.base_url)"
        preview = await engine.preview_step(ALICE, "stop")
        assert preview == {"app1": f"project {project.name}: web running ({BUSYBOX})"}
        assert await engine.run_step(ALICE, "stop") == "succeeded"
        assert project.state("web") == "exited"
    finally:
        await engine.aclose()


async def test_base_url_with_several_hosts_is_refused(tmp_path, lab, project):
    project.run("web")
    engine = open_engine(
        tmp_path, lab, docker_step("st", operation="status", base_url=SOCKET, project=project.name), hosts=("a1", "a2")
    )
    try:
        assert await engine.run_step(ALICE, "st") == "failed"
        assert "is one engine but the step targets 2 hosts (a1, a2)" in engine.state.steps["st"].attempt.error
    finally:
        await engine.aclose()
