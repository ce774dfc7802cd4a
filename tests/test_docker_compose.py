"""Compose CLI steps over SSH: ``down`` and ``up`` on the host, and a cancelled compose command stopped there.

The compose CLI is not installed here: a stand-in script records its arguments and acts on the
real dockerd through the docker CLI, labelling containers the way compose does.
"""

from __future__ import annotations

import asyncio
import subprocess
import time

import pytest
from docker_support import ALICE, BUSYBOX, PROJECT_LABEL, SERVICE_LABEL, docker_step, open_engine, output, result

from actions import registry

# client and app_image (one per module) and project (one per test): the real dockerd, cleaned up after.
pytest_plugins = ["docker_fixtures"]
pytestmark = pytest.mark.sshd


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
