"""``warroom drill --fail STEP``: one automated step fails the way it fails in production.

The failure is put into the sandbox — the host, its files, its services — never into warroom, so
the step kind meets it exactly as it would meet it on a real host and reports it in its own words:

- ``ssh``: the step's command lines, when the host receives them, exit 1 instead of running
  (:class:`console.drill.sshserver.Failure`);
- ``storage``: the archive is corrupt, cut off halfway (a backup job killed by a full disk);
- ``git``: the release to roll back to is missing (its tag deleted, as if never pushed);
- ``docker`` (``status``): a service exits right after it starts (a crash on start);
- ``http``: the health endpoint answers 503, its database check failing, the services up.

:func:`rehearsable` is asked before anything is built, so ``--fail`` on a step the drill cannot
fail is refused in one line rather than rehearsed as a success.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from actions.storage import DEFAULT_ARCHIVE
from console.drill import tools
from console.drill.httpserver import HEALTH_FAILURE
from console.drill.sandbox import Sandbox
from console.drill.sshserver import DrillHost, Failure
from console.model.plan import PlannedStep

PREVIOUS_STABLE = "previous-stable"
HEALTH_ERROR = "SQLSTATE[HY000] [2002] Connection refused (drill: rehearsed failure)"


def rehearsable(kind: str, params: dict[str, Any]) -> bool:
    """Whether the drill knows how to make a step of this kind fail."""
    if kind == "docker":
        return params.get("operation") == "status"
    return kind in ("ssh", "storage", "git", "http")


def rehearse(step: PlannedStep, box: Sandbox, host: DrillHost) -> str:
    """Put the failure of ``step`` into the sandbox; returns what was done, for the drill's output."""
    if step.kind == "storage":
        return _corrupt_archive(box, step)
    if step.kind == "git":
        return _drop_release(box, str(step.params.get("ref", PREVIOUS_STABLE)))
    if step.kind == "docker":
        return _crash_on_start(box)
    if step.kind == "http":
        tools.write_atomic(box.state / HEALTH_FAILURE, HEALTH_ERROR + "\n")
        return f"the health endpoint answers 503: database check failing ({HEALTH_ERROR})"
    host.failure = Failure(step.id, step.commands)
    return "its commands exit 1 on the host"


def _on_host(box: Sandbox, cwd: str, path: str) -> Path:
    """A step's path as the drill host resolves it: relative to the cwd, the cwd to the home."""
    base = box.home / cwd.removeprefix("~").lstrip("/") if cwd.startswith("~") else box.home / cwd
    return base / path


def _corrupt_archive(box: Sandbox, step: PlannedStep) -> str:
    archive = str(step.params.get("archive", DEFAULT_ARCHIVE))
    path = _on_host(box, step.cwd, archive)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return f"its archive {archive} is corrupt (cut off at {len(data) // 2} of {len(data)} bytes)"


def _drop_release(box: Sandbox, ref: str) -> str:
    tags = box.git("tag", "--list").split()
    if ref == PREVIOUS_STABLE:
        current = box.git("describe", "--tags", "--abbrev=0", "HEAD")
        gone = [t for t in tags if t != current]
    else:
        gone = [ref] if ref in tags else []
    for tag in gone:
        box.git("tag", "-d", tag)
    return f"the release to roll back to is missing (tag {', '.join(gone) or ref} deleted)"


def _crash_on_start(box: Sandbox) -> str:
    service = tools.SERVICES[0]
    tools.write_atomic(box.state / tools.CRASH_ON_START, service + "\n")
    return f"service {service} exits right after it starts"
