"""The parameters of a docker step as one typed model, checked once when the runbook loads and
again once rendered.

At load time a value may still hold a ``{{ placeholder }}``; such a value is checked only after
the plan has filled it in, when a bad value fails ``warroom check`` / ``plan`` with the parameter's name.
"""

from __future__ import annotations

import re
import shlex
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationInfo, field_validator, model_validator

from actions.params import ParamError, StepParams, later, step_timeout
from actions.params import parse as parse_params

__all__ = ["DockerParams", "ParamError", "parse", "since_timestamp"]

OPERATIONS = ("status", "stop", "start", "logs", "compose")
COMMON = {"operation", "project", "services", "base_url", "socket"}
PER_OPERATION = {
    "status": {"expect_image_tag", "wait"},
    "stop": {"stop_timeout"},
    "start": set(),
    "logs": {"tail", "since", "follow", "timestamps"},
    "compose": {"compose", "file", "compose_command", "verify"},
}
# Compose subcommands a rollback needs; "down", "stop" and "restart" act on containers that must exist.
COMPOSE_SUBCOMMANDS = ("down", "up", "stop", "start", "restart", "pull", "ps")
NEEDS_EXISTING = ("down", "stop", "restart", "start")
DEFAULT_SOCKET = "/var/run/docker.sock"

# Compose normalises project names to this; the labels carry the normalised form.
PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
SERVICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
SINCE_RELATIVE = re.compile(r"^(\d+)([smhd]?)$")
UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class DockerParams(StepParams):
    operation: str
    """One of :data:`OPERATIONS`; which other keys a step may give depends on it."""
    project: str | None = None
    """The compose project, usually a variable (``"{{ docker.compose_project }}"``). Required."""
    services: tuple[str, ...] = ()
    base_url: str | None = None
    """The engine's URL; None or "": each host's own engine, its socket forwarded over SSH."""
    socket: str = DEFAULT_SOCKET
    expect_image_tag: str | dict[str, str] | None = None
    """One tag for every service, or a tag per service."""
    wait: float = 0.0
    stop_timeout: int = 10
    tail: int | str = 100
    since: str | None = None
    follow: float = 0.0
    timestamps: bool = False
    compose: tuple[str, ...] = ()
    file: str | None = None
    compose_command: str = "docker-compose"
    verify: bool = True

    @property
    def image_tag(self) -> str | None:
        """The one tag every service must run, if one was given."""
        return self.expect_image_tag if isinstance(self.expect_image_tag, str) else None

    @property
    def expect_tags(self) -> dict[str, str]:
        """The tag per service, if given so."""
        return self.expect_image_tag if isinstance(self.expect_image_tag, dict) else {}

    def expected_tag(self, service: str) -> str | None:
        return self.expect_tags.get(service, self.image_tag)

    @model_validator(mode="before")
    @classmethod
    def _fits_the_operation(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict):
            return data
        operation = data.get("operation")
        if operation not in OPERATIONS:
            raise ParamError("operation", f"give one of {', '.join(OPERATIONS)} (got {operation!r})")
        allowed = COMMON | PER_OPERATION[operation]
        given = set(data) | later(info)
        for key in sorted(given):
            if key not in allowed:
                # about the key, not its value: not left for the plan even when the value is a placeholder
                problem = f"not a parameter of operation {operation!r} (it takes: {', '.join(sorted(allowed))})"
                raise ParamError("", f"params.{key}: {problem}")
        return data

    @model_validator(mode="after")
    def _compose_complete(self, info: ValidationInfo) -> DockerParams:
        """After the values' own checks, as always: ``compose = "up"`` hears "up must run detached"
        before it hears that ``file`` is missing."""
        given = self.model_fields_set | later(info)
        if self.operation == "compose" and "compose" not in given:
            raise ParamError("compose", f'give the compose subcommand, e.g. "up -d" ({", ".join(COMPOSE_SUBCOMMANDS)})')
        if self.operation == "compose" and "file" not in given:
            raise ParamError("file", 'give the compose file, e.g. "{{ app.compose_file }}"')
        if "project" not in given:
            raise ParamError("project", 'missing; give the compose project, e.g. "{{ docker.compose_project }}"')
        return self

    @field_validator("*", mode="before")
    @classmethod
    def _checked(cls, value: Any, info: ValidationInfo) -> Any:
        check = _CHECKS.get(str(info.field_name))
        return check(value, step_timeout(info)) if check else value


def parse(params: dict[str, Any], timeout: float, *, static: bool = False) -> DockerParams | None:
    """Typed parameters, or :class:`ParamError`; ``static`` skips values still holding placeholders
    (None: only such values stood in the way, so there is nothing checked to return yet)."""
    return parse_params(DockerParams, params, timeout=timeout, rendered=not static)


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ParamError(name, f"expected a non-empty string, got {value!r}")
    return value.strip()


def _number(name: str, value: Any, *, lowest: float = 0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < lowest:
        raise ParamError(name, f"expected a number of seconds >= {lowest:g}, got {value!r}")
    return float(value)


def _project(value: Any, _timeout: float | None) -> Any:
    name = _text("project", value)
    if not PROJECT_NAME.match(name):
        raise ParamError("project", f"{name!r} is not a compose project name (lowercase letters, digits, '-' and '_')")
    return name


def _services(value: Any, _timeout: float | None) -> Any:
    # A placeholder such as "{{ app.services }}" renders a list as space-separated words.
    if isinstance(value, str):
        names = value.replace(",", " ").split()
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        names = [v.strip() for v in value]
    else:
        raise ParamError("services", f"expected a list of service names, got {value!r}")
    for name in names:
        if not SERVICE_NAME.match(name):
            raise ParamError("services", f"{name!r} is not a compose service name")
    return tuple(dict.fromkeys(names))


def _base_url(value: Any, _timeout: float | None) -> Any:
    if not isinstance(value, str):
        raise ParamError("base_url", f"expected a string such as unix:///var/run/docker.sock, got {value!r}")
    url = value.strip()  # "" (e.g. an empty "{{ docker.base_url }}") means: over SSH
    if url and not url.startswith(("unix://", "tcp://", "http://", "https://", "ssh://")):
        raise ParamError("base_url", f"{url!r} is not a Docker endpoint (unix://, tcp://, http(s):// or ssh://)")
    return url


def _socket(value: Any, _timeout: float | None) -> Any:
    path = _text("socket", value)
    if not path.startswith("/"):
        raise ParamError("socket", f"expected an absolute path on the host, got {path!r}")
    return path


def _expect_image_tag(value: Any, _timeout: float | None) -> Any:
    if isinstance(value, dict):
        tags = {}
        for service, tag in value.items():
            if not isinstance(tag, str) or not TAG.match(tag):
                raise ParamError("expect_image_tag", f"service {service!r}: {tag!r} is not an image tag")
            tags[str(service)] = tag
        return tags
    tag = _text("expect_image_tag", value)
    if not TAG.match(tag):
        raise ParamError("expect_image_tag", f"{tag!r} is not an image tag (e.g. v0.9.0)")
    return tag


def _wait(value: Any, timeout: float | None) -> Any:
    seconds = _number("wait", value)
    if timeout is not None and seconds >= timeout:
        raise ParamError("wait", f"{seconds:g}s must be shorter than the step's timeout ({timeout:g}s)")
    return seconds


def _stop_timeout(value: Any, timeout: float | None) -> Any:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ParamError("stop_timeout", f"expected whole seconds >= 0, got {value!r}")
    return value


def _tail(value: Any, _timeout: float | None) -> Any:
    if value == "all" or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return value
    raise ParamError("tail", f'expected a number of lines >= 0 or "all", got {value!r}')


def _since(value: Any, _timeout: float | None) -> Any:
    text = str(value).strip() if isinstance(value, int | str) and not isinstance(value, bool) else ""
    if not text:
        raise ParamError("since", f'expected "10m", "2h", seconds, or an ISO time, got {value!r}')
    since_timestamp(text)
    return text


def since_timestamp(text: str, now: float | None = None) -> float:
    """``"10m"`` (ago), ``"600"`` (seconds ago) or an ISO time (UTC when no offset) as a Unix time."""
    match = SINCE_RELATIVE.match(text)
    if match:
        ago = int(match.group(1)) * UNITS[match.group(2)]
        return (now if now is not None else datetime.now(UTC).timestamp()) - ago
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ParamError("since", f'{text!r} is neither a duration ("10m", "2h") nor an ISO time') from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _follow(value: Any, timeout: float | None) -> Any:
    seconds = _number("follow", value)
    if timeout is not None and seconds >= timeout:
        raise ParamError("follow", f"{seconds:g}s must be shorter than the step's timeout ({timeout:g}s)")
    return seconds


def _timestamps(value: Any, _timeout: float | None) -> Any:
    if not isinstance(value, bool):
        raise ParamError("timestamps", f"expected true or false, got {value!r}")
    return value


def _compose(value: Any, _timeout: float | None) -> Any:
    try:
        words = tuple(shlex.split(_text("compose", value)))
    except ValueError as exc:
        raise ParamError("compose", f"cannot split {value!r}: {exc}") from None
    if words[0] not in COMPOSE_SUBCOMMANDS:
        raise ParamError("compose", f"{words[0]!r} is not one of {', '.join(COMPOSE_SUBCOMMANDS)}")
    if words[0] == "up" and "-d" not in words and "--detach" not in words:
        raise ParamError("compose", '"up" must run detached ("up -d"): a foreground up never ends')
    return words


def _file(value: Any, _timeout: float | None) -> Any:
    return _text("file", value)


def _compose_command(value: Any, _timeout: float | None) -> Any:
    return _text("compose_command", value)


def _verify(value: Any, _timeout: float | None) -> Any:
    if not isinstance(value, bool):
        raise ParamError("verify", f"expected true or false, got {value!r}")
    return value


_CHECKS = {
    "project": _project,
    "services": _services,
    "base_url": _base_url,
    "socket": _socket,
    "expect_image_tag": _expect_image_tag,
    "wait": _wait,
    "stop_timeout": _stop_timeout,
    "tail": _tail,
    "since": _since,
    "follow": _follow,
    "timestamps": _timestamps,
    "compose": _compose,
    "file": _file,
    "compose_command": _compose_command,
    "verify": _verify,
}
