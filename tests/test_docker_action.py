"""Docker steps through the real engine: this machine's dockerd stands for the host's, reached
through a real sshd lab host (its socket forwarded over SSH) or directly by ``base_url``.

Containers are busybox with compose labels, one compose project per test, all removed afterwards.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import stat
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from conftest import write_config, write_runbook

from actions import registry
from actions.docker.params import ParamError, parse, since_timestamp
from actions.docker.project import image_tag
from actions.registry import KINDS
from console.engine import Actor, Engine
from console.model.config import load_config
from console.model.errors import RunbookError
from console.model.plan import build_plan
from console.model.runbook import load_runbook

pytestmark = pytest.mark.sshd
ALICE = Actor("alice", "driver")
SOCKET = "unix:///var/run/docker.sock"
BUSYBOX = "local/busybox:1"
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


# ----- real engine fixtures ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def client():
    docker = pytest.importorskip("docker")
    if shutil.which("dockerd") is None:
        pytest.skip("dockerd not installed: run ./scripts/setup-services")
    try:
        api = docker.DockerClient(base_url=SOCKET, timeout=30)
        api.images.get(BUSYBOX)
    except docker.errors.DockerException as exc:
        pytest.fail(f"dockerd or {BUSYBOX} not available ({exc}): run ./scripts/setup-services")
    yield api
    api.close()


@pytest.fixture(scope="module")
def app_image(client):
    """``local/wr-<id>:v0.9.0`` and ``:v1.0.0``: busybox under the tags a release would carry."""
    repo = f"local/wr-{uuid.uuid4().hex[:8]}"
    image = client.images.get(BUSYBOX)
    for tag in ("v0.9.0", "v1.0.0"):
        image.tag(repo, tag)
    yield repo
    for tag in ("v0.9.0", "v1.0.0"):
        client.images.remove(f"{repo}:{tag}")


class Compose:
    """A compose project made of labelled busybox containers, as compose itself would label them."""

    def __init__(self, client, name: str) -> None:
        self.client = client
        self.name = name

    def run(self, service: str, command: str = "sleep 300", *, image: str = BUSYBOX, **kwargs):
        return self.client.containers.run(
            image,
            ["sh", "-c", command],
            detach=True,
            init=kwargs.pop("init", True),
            name=f"{self.name}-{service}-1",
            labels={PROJECT_LABEL: self.name, SERVICE_LABEL: service, "com.docker.compose.container-number": "1"},
            **kwargs,
        )

    def state(self, service: str) -> str:
        return self.client.containers.get(f"{self.name}-{service}-1").status

    def containers(self):
        return self.client.containers.list(all=True, filters={"label": f"{PROJECT_LABEL}={self.name}"})

    def remove(self) -> None:
        for container in self.containers():
            container.remove(force=True)


@pytest.fixture
def project(client):
    compose = Compose(client, f"wr{uuid.uuid4().hex[:10]}")
    yield compose
    compose.remove()


def web_and_api(project: Compose, image: str) -> None:
    """web: a healthcheck that passes within a second; api: a real HTTP server."""
    project.run(
        "web", image=image, healthcheck={"test": ["CMD-SHELL", "echo ok"], "interval": 300_000_000, "retries": 1}
    )
    project.run("api", "mkdir -p /www && echo ok > /www/index.html && httpd -f -p 8080 -h /www", image=image)


# ----- engine helpers ----------------------------------------------------------------------------


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def docker_step(step_id: str, *, timeout: int = 30, cwd: str = "", targets: str = "app", **params) -> str:
    lines = [
        "",
        "[[phases.steps]]",
        f'id = "{step_id}"',
        f'title = "Docker {step_id}"',
        'kind = "docker"',
        f'targets = "{targets}"',
        f"timeout = {timeout}",
    ]
    if cwd:
        lines.append(f"cwd = {json.dumps(cwd)}")
    lines.append("params = { " + ", ".join(f"{k} = {toml_value(v)}" for k, v in params.items()) + " }")
    return "\n".join(lines) + "\n"


def open_engine(tmp_path: Path, lab, steps: str, *, hosts=("app1",), docker: str = "") -> Engine:
    extra = f"\n[docker]\n{docker}\n" if docker else ""
    config = load_config(write_config(tmp_path / "config.toml", lab, list(hosts), extra=extra))
    runbook = load_runbook(write_runbook(tmp_path / "runbook.toml", steps), KINDS)
    plan = build_plan(runbook, config)
    engine = Engine.open(tmp_path / "state", plan, ALICE, severity="P0", trigger="test", config=config)
    engine.take_seat(ALICE)
    return engine


def result(engine: Engine, step_id: str, host: str = "app1") -> dict:
    return engine.state.steps[step_id].attempt.results[host]


def output(engine: Engine, step_id: str, host: str = "app1", attempt: int = 1) -> str:
    return engine.output_path(step_id, attempt, host).read_text()


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


# ----- direct base_url and config defaults ---------------------------------------------------------


async def test_direct_base_url_and_project_from_config(tmp_path, lab, project):
    project.run("web")
    steps = docker_step("st", operation="status") + docker_step("stop", operation="stop", stop_timeout=5)
    engine = open_engine(tmp_path, lab, steps, docker=f'base_url = "{SOCKET}"\ncompose_project = "{project.name}"')
    try:
        assert await engine.run_step(ALICE, "st") == "succeeded", result(engine, "st")
        assert f"docker engine: {SOCKET} ([docker] base_url)" in output(engine, "st")
        assert result(engine, "st")["facts"]["endpoint"] == f"{SOCKET} ([docker] base_url)"
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


# ----- compose CLI over SSH ----------------------------------------------------------------------------

STAND_IN = """#!/bin/sh
# Stand-in for the compose CLI (not installed here): records its arguments and acts on the real
# engine through the docker CLI, labelling containers the way compose does.
echo "$*" >> "$HOSTDIR/compose-args"
while [ $# -gt 0 ]; do case "$1" in -p) project=$2; shift 2;; -f) file=$2; shift 2;; *) break;; esac; done
case "$1" in
  down) ids=$(docker ps -aq --filter "label=com.docker.compose.project=$project")
        echo "Removing $(echo $ids | wc -w) container(s)"; [ -z "$ids" ] || docker rm -f $ids >/dev/null ;;
  up) for svc in $(cat "$file"); do
        echo "Creating $project-$svc-1"
        docker run -d --init --name "$project-$svc-1" --label "com.docker.compose.project=$project" \\
          --label "com.docker.compose.service=$svc" IMAGE sleep 300 >/dev/null
      done ;;
  pull) echo "Pulling $project"; sleep 317 ;;
esac
"""


async def test_compose_down_and_up_over_ssh(tmp_path, lab, project):
    project.run("web")
    project.run("api")
    host = lab.start("app1")
    (host.root / "bin").mkdir()
    stand_in = host.root / "bin" / "docker-compose"
    stand_in.write_text(STAND_IN.replace("IMAGE", BUSYBOX))
    stand_in.chmod(0o755)
    (host.root / "docker-compose.prod.yml").write_text("web\napi\n")
    common = {
        "project": project.name,
        "file": "docker-compose.prod.yml",
        "compose_command": "$HOSTDIR/bin/docker-compose",
    }
    steps = docker_step("down", operation="compose", compose="down", cwd="$HOSTDIR", **common)
    steps += docker_step("up", operation="compose", compose="up -d", cwd="$HOSTDIR", **common)
    steps += docker_step(
        "wrong", operation="compose", compose="down", cwd="$HOSTDIR", **{**common, "project": f"{project.name}x"}
    )
    engine = open_engine(tmp_path, lab, steps)
    try:
        [planned] = registry.create("docker").plan(engine.plan.steps["down"])
        assert f"cd $HOSTDIR && $HOSTDIR/bin/docker-compose -p {project.name} -f" in planned.text
        assert planned.text.split(" -f ")[1].startswith('"docker-compose.prod.yml" down')

        assert await engine.run_step(ALICE, "down") == "succeeded", result(engine, "down")
        assert project.containers() == []
        text = output(engine, "down")
        assert "Removing 2 container(s)" in text and "(no containers)" in text
        args = (host.root / "compose-args").read_text().splitlines()
        assert args == [f"-p {project.name} -f docker-compose.prod.yml down"]

        assert await engine.run_step(ALICE, "up") == "succeeded", result(engine, "up")
        assert sorted(c.labels[SERVICE_LABEL] for c in project.containers()) == ["api", "web"]
        assert result(engine, "up")["facts"]["services"] == {"api": ["running"], "web": ["running"]}

        assert await engine.run_step(ALICE, "wrong") == "failed"
        assert f"no containers with label {PROJECT_LABEL}={project.name}x" in result(engine, "wrong")["error"]
        assert len((host.root / "compose-args").read_text().splitlines()) == 2  # compose never ran
    finally:
        await engine.aclose()


async def test_cancelled_compose_command_is_stopped_on_the_host(tmp_path, lab, project):
    project.run("web")
    host = lab.start("app1")
    (host.root / "docker-compose").write_text(STAND_IN.replace("IMAGE", BUSYBOX))
    (host.root / "docker-compose").chmod(0o755)
    step = docker_step(
        "pull",
        operation="compose",
        compose="pull",
        cwd="$HOSTDIR",
        project=project.name,
        file="compose.yml",
        compose_command="./docker-compose",
        timeout=120,
    )
    engine = open_engine(tmp_path, lab, step)
    try:
        task = engine.start_step(ALICE, "pull")
        deadline = time.monotonic() + 10
        while subprocess.run(["pgrep", "-f", "sleep 317"], capture_output=True).returncode != 0:
            assert time.monotonic() < deadline, "compose never started"
            await asyncio.sleep(0.1)
        engine.cancel_step(ALICE, "pull")
        await asyncio.wait_for(task, 15)
        assert engine.state.steps["pull"].status == "cancelled"
        assert "remote process group stopped" in result(engine, "pull")["error"]
        assert subprocess.run(["pgrep", "-f", "sleep 317"], capture_output=True).returncode != 0
        assert f"Pulling {project.name}" in output(engine, "pull")
    finally:
        await engine.aclose()


# ----- runbook checks, plan text, parameters (no engine) ---------------------------------------------


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"operation": "restart"}, "operation: give one of status, stop, start, logs, compose"),
        ({"operation": "status", "tail": 3}, "tail: not a parameter of operation 'status'"),
        ({"operation": "logs", "follow": 30}, "follow: 30s must be shorter than the step's timeout (30s)"),
        ({"operation": "logs", "tail": -1}, 'tail: expected a number of lines >= 0 or "all"'),
        ({"operation": "status", "project": "Salon Manager"}, "is not a compose project name"),
        ({"operation": "compose", "compose": "up", "file": "x.yml"}, '"up" must run detached'),
        ({"operation": "compose", "compose": "rm -f", "file": "x.yml"}, "'rm' is not one of"),
        ({"operation": "compose", "compose": "down"}, "file: give the compose file"),
    ],
)
def test_bad_parameters_fail_the_runbook_load(tmp_path, params, problem):
    path = write_runbook(tmp_path / "runbook.toml", docker_step("d", **params))
    with pytest.raises(RunbookError) as caught:
        load_runbook(path, KINDS)
    assert problem in str(caught.value)
    assert "phases[0].steps[0].params" in str(caught.value)


def test_placeholders_are_checked_once_rendered():
    params = {"operation": "status", "project": "{{ docker.compose_project }}", "services": "{{ app.services }}"}
    assert parse(params, 30, static=True).project is None
    rendered = parse({**params, "project": "salonmanager", "services": "backend frontend"}, 30)
    assert rendered.project == "salonmanager" and rendered.services == ("backend", "frontend")
    with pytest.raises(ParamError, match="not a compose project name"):
        parse({**params, "project": "Bad Name"}, 30)


def test_plan_says_endpoint_project_and_services():
    from console.model.plan import PlannedStep

    def planned(**params) -> str:
        step = PlannedStep(id="s", title="s", kind="docker", phase="p", automated=True, hosts=("app1",), params=params)
        return registry.create("docker").plan(step)[0].text

    text = planned(operation="status", project="sm", services=["backend"], expect_image_tag="v0.9.0", base_url="")
    assert text == (
        "engine unix:///var/run/docker.sock on app1 forwarded over SSH: check compose project sm (backend): "
        "running, healthy where a healthcheck exists, image tag v0.9.0"
    )
    assert "(unless [docker] base_url is set)" in planned(operation="stop", project="sm")
    assert "<[docker] compose_project>" in planned(operation="start")
    text = planned(operation="logs", project="sm", base_url="tcp://10.0.0.5:2375", tail=50, since="10m", follow=20)
    assert text == (
        "engine tcp://10.0.0.5:2375: logs of compose project sm (all services): "
        "last 50 lines since 10m, then follow for 20s"
    )


def test_image_tags_and_since():
    assert image_tag("registry.example:5000/team/app:v0.9.0") == "v0.9.0"
    assert image_tag("registry.example:5000/team/app") == "latest"
    assert image_tag("app:v1@sha256:" + "a" * 64) == "v1"
    assert image_tag("sha256:" + "b" * 64) is None
    assert since_timestamp("10m", now=1000.0) == 400.0
    assert since_timestamp("2026-01-01T00:00:00") == since_timestamp("2026-01-01T00:00:00+00:00")
    with pytest.raises(ParamError):
        since_timestamp("yesterday")
