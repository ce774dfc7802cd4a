"""A compose project as the engine sees it: containers found by compose labels, checked per service.

One ``GET /containers/json`` filtered by label answers a status check, like ``docker ps``; only an
unhealthy container costs one more call, for the output of its failing probe. A project or service
that is not there is an error that lists what is there, never an empty success.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from actions.docker.engine import DockerEngine
from actions.docker.params import DockerParams
from console.model.errors import ActionError

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
ONEOFF_LABEL = "com.docker.compose.oneoff"
HEALTH_IN_STATUS = re.compile(r"\((healthy|unhealthy|health: starting)\)")
HEX_ID = re.compile(r"^(sha256:)?[0-9a-f]{12,64}$")


@dataclass
class Container:
    id: str
    name: str
    service: str
    state: str
    status: str
    image: str
    health: str | None = None
    probe: str = ""
    """The last health probe's output, fetched only for an unhealthy container."""

    @classmethod
    def from_summary(cls, summary: dict[str, Any]) -> Container:
        labels = summary.get("Labels") or {}
        names = summary.get("Names") or [summary["Id"][:12]]
        status = summary.get("Status") or ""
        return cls(
            id=summary["Id"],
            name=names[0].lstrip("/"),
            service=labels.get(SERVICE_LABEL, "?"),
            state=summary.get("State") or "unknown",
            status=status,
            image=summary.get("Image") or "",
            health=_health(summary, status),
        )

    @property
    def tag(self) -> str | None:
        return image_tag(self.image)


def _health(summary: dict[str, Any], status: str) -> str | None:
    """Newer engines report ``Health`` in the list; older ones only in the status text."""
    health = summary.get("Health")
    if isinstance(health, dict) and health.get("Status") not in (None, "", "none"):
        return str(health["Status"])
    match = HEALTH_IN_STATUS.search(status)
    if not match:
        return None
    return "starting" if match.group(1) == "health: starting" else match.group(1)


def image_tag(reference: str) -> str | None:
    """The tag of an image reference; None for a bare image ID (the tag moved since creation)."""
    reference = reference.split("@", 1)[0]
    if not reference or HEX_ID.match(reference):
        return None
    last = reference.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else "latest"


@dataclass
class Project:
    name: str
    host: str
    step: str
    containers: list[Container]

    @property
    def services(self) -> list[str]:
        return sorted({c.service for c in self.containers})

    def of(self, service: str) -> list[Container]:
        return [c for c in self.containers if c.service == service]

    def select(self, wanted: tuple[str, ...]) -> list[str]:
        """The services to act on (all when none are named); an unknown name is an error."""
        missing = [s for s in wanted if s not in self.services]
        if missing:
            raise ActionError(
                f"step {self.step}: no service {', '.join(missing)} in compose project {self.name} on host "
                f"{self.host} (no container with label {SERVICE_LABEL}={missing[0]}); "
                f"services there: {', '.join(self.services)}"
            )
        return list(wanted) if wanted else self.services


async def load_project(engine: DockerEngine, name: str) -> Project:
    api = engine.client.api
    summaries = await engine.call(
        f"list project {name}", api.containers, all=True, filters={"label": f"{PROJECT_LABEL}={name}"}
    )
    containers = [Container.from_summary(s) for s in summaries if (s.get("Labels") or {}).get(ONEOFF_LABEL) != "True"]
    host, step = engine.target.name, engine.ctx.step.id
    if not containers:
        everything = await engine.call(
            "list compose projects", api.containers, all=True, filters={"label": PROJECT_LABEL}
        )
        projects = sorted({(s.get("Labels") or {}).get(PROJECT_LABEL, "") for s in everything} - {"", name})
        raise ActionError(
            f"step {step}: no containers with label {PROJECT_LABEL}={name} on host {host}; "
            f"projects there: {', '.join(projects) or 'none'}"
        )
    containers.sort(key=lambda c: (c.service, c.name))
    return Project(name, host, step, containers)


@dataclass
class ServiceCheck:
    service: str
    containers: list[Container]
    expected_tag: str | None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def fact(self) -> dict[str, Any]:
        healths = sorted({c.health for c in self.containers if c.health})
        return {
            "containers": [c.name for c in self.containers],
            "running": sum(c.state == "running" for c in self.containers),
            "total": len(self.containers),
            "health": healths[0] if len(healths) == 1 else (healths or None),
            "images": sorted({c.image for c in self.containers}),
            "expected_tag": self.expected_tag,
            "ok": self.ok,
            "problems": self.problems,
        }


def check_services(project: Project, services: list[str], params: DockerParams) -> list[ServiceCheck]:
    checks = []
    for service in services:
        check = ServiceCheck(service, project.of(service), params.expected_tag(service))
        for c in check.containers:
            check.problems += [f"{c.name} {reason}" for reason in container_problems(c, check.expected_tag)]
        checks.append(check)
    return checks


def container_problems(c: Container, expected_tag: str | None) -> list[str]:
    """Why one container fails the check, each reason read after its name."""
    problems = []
    if c.state != "running":
        problems.append(f"is {c.state} ({c.status})")
    elif c.health in ("unhealthy", "starting"):
        problems.append(f"is {c.health}" + (f": {c.probe}" if c.probe else ""))
    if expected_tag is not None and c.tag != expected_tag:
        runs = f"tag {c.tag}" if c.tag else "an untagged image"
        problems.append(f"runs {c.image} ({runs}), expected tag {expected_tag}")
    return problems


async def add_probe_output(engine: DockerEngine, project: Project) -> None:
    """Fetch the last probe's output of each unhealthy container: the reason an operator needs."""
    for c in project.containers:
        if c.health != "unhealthy":
            continue
        info = await engine.call(f"inspect {c.name}", engine.client.api.inspect_container, c.id)
        log = ((info.get("State") or {}).get("Health") or {}).get("Log") or []
        if log:
            c.probe = " ".join(str(log[-1].get("Output", "")).split())[:200] or f"exit {log[-1].get('ExitCode')}"


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() + "\n" for r in rows)


def status_table(checks: list[ServiceCheck]) -> str:
    rows = [["SERVICE", "CONTAINER", "STATE", "HEALTH", "IMAGE", "CHECK"]]
    for check in checks:
        for c in check.containers:
            mine = "; ".join(container_problems(c, check.expected_tag))
            rows.append([check.service, c.name, c.state, c.health or "-", c.image, f"FAIL: {mine}" if mine else "ok"])
    return table(rows)


def summary_line(project: Project) -> str:
    """One line per project for previews: each service with its state, health and image."""
    parts = []
    for service in project.services:
        cs = project.of(service)
        states = ",".join(sorted({c.state + (f"/{c.health}" if c.health else "") for c in cs}))
        images = ",".join(sorted({c.image for c in cs}))
        parts.append(f"{service} {states} ({images})" + (f" x{len(cs)}" if len(cs) > 1 else ""))
    return f"project {project.name}: " + "; ".join(parts)
