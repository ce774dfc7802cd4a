"""The docker tests' compose projects (labelled busybox containers) and engine helpers."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import declare, write_config, write_runbook

from actions.registry import KINDS
from console.engine import Actor, Engine
from console.model.config import load_config
from console.model.plan import build_plan
from console.model.runbook import load_runbook

ALICE = Actor("alice", "driver")
SOCKET = "unix:///var/run/docker.sock"
BUSYBOX = "local/busybox:1"
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


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


DOCKER_VARIABLES = declare(docker__base_url=("string", ""), docker__compose_project="string")
"""The runbook's docker variables; ``open_engine(docker=...)`` gives their values."""


def open_engine(tmp_path: Path, lab, steps: str, *, hosts=("app1",), docker: str = "") -> Engine:
    """An engine on the lab's hosts; ``docker`` is the body of the config's ``[vars.docker]``."""
    extra = f"\n[vars.docker]\n{docker}\n" if docker else ""
    config = load_config(write_config(tmp_path / "config.toml", lab, list(hosts), extra=extra))
    runbook = load_runbook(write_runbook(tmp_path / "runbook.toml", steps, variables=DOCKER_VARIABLES), KINDS)
    plan = build_plan(runbook, config)
    engine = Engine.open(tmp_path / "state", plan, ALICE, severity="P0", trigger="test", config=config)
    engine.take_seat(ALICE)
    return engine


def result(engine: Engine, step_id: str, host: str = "app1") -> dict:
    return engine.state.steps[step_id].attempt.results[host]


def output(engine: Engine, step_id: str, host: str = "app1", attempt: int = 1) -> str:
    return engine.output_path(step_id, attempt, host).read_text()
